/**
 * Tokens back to masks, one way for every command (SPEC §4, §8): the answer's prompts under its
 * decode rule (core/decode/prompts.ts), run through SAM, one mask per prompt by the mask policy.
 * Under `union` the object is the union of the masks; under `box` there is one mask.
 */
import type {GridFrame} from '../../core/grid/grid.js'
import {type DecodeRule, type Pixel, type SamPrompt, type TokenAnswer, answerToPrompts, clickPrompt} from '../../core/decode/prompts.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import {SAM_LOW_RES, lowResLogitsToCropMask} from '../../core/masks/sam-geometry.js'
import {type MaskPolicy, maskTokenForPolicy} from '../../core/selection/policy.js'
import type {ImageEmbedding, PromptMasks, SamEngine} from '../../sam/engine.js'
import {type CuratedTokens, curatedAnswer} from '../../core/decode/curated-answer.js'
import type {ErrorPlace} from '../../core/errors.js'

export interface DecodeInput extends TokenAnswer {
  flipV?: boolean
}

/** The mask a policy picks out of SAM's four, at image resolution. */
export function promptMask(o: PromptMasks, policy: MaskPolicy, embedding: ImageEmbedding): CropMask {
  return lowResLogitsToCropMask(o.logits, maskTokenForPolicy(o.scores, policy) * SAM_LOW_RES * SAM_LOW_RES, embedding.frame)
}

/** SAM masks for any prompts, in order (no cache), one per prompt by the policy. */
export async function masksForPrompts(
  engine: SamEngine,
  embedding: ImageEmbedding,
  prompts: readonly SamPrompt[],
  policy: MaskPolicy,
  batch = 1,
): Promise<CropMask[]> {
  const outputs = await engine.decodePrompts(embedding, prompts, batch)
  return outputs.map((o) => promptMask(o, policy, embedding))
}

/** The masks an answer decodes to under a rule: their union is the object. */
export async function decodeAnswer(
  engine: SamEngine,
  embedding: ImageEmbedding,
  rule: DecodeRule,
  input: DecodeInput,
  grid: GridFrame,
  policy: MaskPolicy,
  batch = 1,
): Promise<CropMask[]> {
  return masksForPrompts(engine, embedding, answerToPrompts(rule, input, grid, input.flipV), policy, batch)
}

/**
 * A curate record's masks under the rule it names (records without `decode` read as union): their
 * union with the ground truth is the record's `iou`.
 */
export async function decodeRecord(
  engine: SamEngine,
  embedding: ImageEmbedding,
  record: CuratedTokens & {policy: MaskPolicy},
  grid: GridFrame,
  where: ErrorPlace = {},
  batch = 1,
): Promise<CropMask[]> {
  const {rule, answer} = curatedAnswer(record, grid.n, where)
  return decodeAnswer(engine, embedding, rule, answer, grid, record.policy, batch)
}

/** The union rule (SPEC §4): one click prompt per point after offsets and deletions. */
export async function decodeTokens(
  engine: SamEngine,
  embedding: ImageEmbedding,
  input: DecodeInput,
  grid: GridFrame,
  policy: MaskPolicy,
): Promise<CropMask[]> {
  return decodeAnswer(engine, embedding, 'union', input, grid, policy)
}

/** SAM masks at single clicks (the union rule's prompts). */
export async function masksAtPoints(
  engine: SamEngine,
  embedding: ImageEmbedding,
  points: readonly Pixel[],
  policy: MaskPolicy,
): Promise<CropMask[]> {
  return masksForPrompts(engine, embedding, points.map(clickPrompt), policy)
}
