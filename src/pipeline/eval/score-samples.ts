/**
 * Score samples of one image through SAM (SPEC §9): plan each (core/eval/plan.ts), decode every
 * prompt of every sample in one pass, equal-length prompts batched, then score against each
 * sample's ground truth. No file I/O: `getok eval` and the reward server (`getok serve`) call this
 * with an embedding they made or cached.
 */
import type {GridFrame} from '../../core/grid/grid.js'
import type {SamPrompt} from '../../core/decode/prompts.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import {type EvalSample, type EvalSettings, type SamplePlan, planSample} from '../../core/eval/plan.js'
import {type GroundTruth, type SampleScore, scoreSample} from '../../core/eval/score.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'
import {masksForPrompts} from '../decode/decode.js'

export interface Scorer {
  engine: SamEngine
  settings: EvalSettings
  /** the curated data's mask policy */
  policy: MaskPolicy
  /** prompts per decoder run */
  batch: number
}

export interface ScoreItem {
  sample: EvalSample
  gt: GroundTruth
}

export interface ScoredItem {
  plan: SamplePlan
  score: SampleScore
}

/**
 * Score samples of one image. `embedding` may be a function: it is called (once) only when some
 * answer has prompts to decode, so an image whose answers all fail to parse is never encoded.
 */
export async function scoreImageSamples(
  scorer: Scorer,
  image: {width: number; height: number},
  embedding: ImageEmbedding | (() => Promise<ImageEmbedding>),
  items: readonly ScoreItem[],
): Promise<ScoredItem[]> {
  return (await decodeImageSamples(scorer, image, embedding, items)).map(({plan, score}) => ({plan, score}))
}

/** A scored sample with the masks its turns decoded to (what `getok inspect --eval` draws). */
export interface DecodedItem extends ScoredItem {
  masks: {answer: CropMask[]; refined: CropMask[]}
}

/** As scoreImageSamples, keeping each sample's masks. */
export async function decodeImageSamples(
  scorer: Scorer,
  image: {width: number; height: number},
  embedding: ImageEmbedding | (() => Promise<ImageEmbedding>),
  items: readonly ScoreItem[],
): Promise<DecodedItem[]> {
  const frame: GridFrame = {n: scorer.settings.n, width: image.width, height: image.height}
  const plans = items.map((it) => planSample(it.sample, frame, scorer.settings))
  const turns = plans.flatMap((p) => [p.answer.prompts, p.refined?.prompts ?? []])
  const masks = await decodeAll(scorer, embedding, turns)
  return plans.map((plan, k) => {
    const turnMasks = {answer: masks[2 * k], refined: masks[2 * k + 1]}
    return {plan, masks: turnMasks, score: scoreSample(plan, turnMasks, items[k].gt, frame, scorer.settings)}
  })
}

/** One sample, for a caller with one request. */
export async function scoreOneSample(
  scorer: Scorer,
  image: {width: number; height: number},
  embedding: ImageEmbedding | (() => Promise<ImageEmbedding>),
  item: ScoreItem,
): Promise<ScoredItem> {
  return (await scoreImageSamples(scorer, image, embedding, [item]))[0]
}

/**
 * Masks for lists of prompts: all prompts decoded together, sorted by length so equal lengths share
 * runs. A prompt that recurs (the same answer given twice, a refinement that moves nothing) is decoded
 * once and its mask shared: the decoder is deterministic, so the figures are the same.
 */
async function decodeAll(
  scorer: Scorer,
  embedding: ImageEmbedding | (() => Promise<ImageEmbedding>),
  lists: readonly SamPrompt[][],
): Promise<CropMask[][]> {
  const out = lists.map((l) => new Array<CropMask>(l.length))
  const unique = new Map<string, {prompt: SamPrompt; uses: {list: number; k: number}[]}>()
  lists.forEach((prompts, list) =>
    prompts.forEach((prompt, k) => {
      const key = promptKey(prompt)
      const entry = unique.get(key) ?? unique.set(key, {prompt, uses: []}).get(key)!
      entry.uses.push({list, k})
    }),
  )
  if (unique.size === 0) return out
  const distinct = [...unique.values()].sort((a, b) => a.prompt.points.length - b.prompt.points.length)
  const emb = typeof embedding === 'function' ? await embedding() : embedding
  const masks = await masksForPrompts(
    scorer.engine,
    emb,
    distinct.map((d) => d.prompt),
    scorer.policy,
    scorer.batch,
  )
  distinct.forEach((d, m) => d.uses.forEach(({list, k}) => (out[list][k] = masks[m])))
  return out
}

/** Equal keys, equal prompts: every point and label, in order (a number's shortest string names it exactly). */
function promptKey(prompt: SamPrompt): string {
  return prompt.points.map(([x, y], k) => `${x},${y},${prompt.labels[k]}`).join(';')
}
