/**
 * `getok inspect --eval`: samples of an eval.jsonl drawn as eval scored them. Each image is encoded
 * once; its samples are planned and decoded by eval's own code (pipeline/eval/score-samples.ts) with
 * the run's grid, rule, policy and offset sign, so the fill is the mask eval measured and the IoU
 * the one in the line. The picture shows the answer's points (with their offsets after a
 * refinement), its box (the corners eval used), the decoded mask of the last turn, the ground truth
 * (the union of the referred objects) and, for a failed answer, the reason.
 */
import {existsSync} from 'node:fs'
import {type CocoDataset, type CocoImage, readCoco} from '../../adapters/coco.js'
import {loadImage, resizeForSam} from '../../adapters/images.js'
import {type RenderedPicture, renderPicture} from '../../adapters/render.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import type {GridMark, Picture} from '../../core/draw/draw.js'
import {GetokError} from '../../core/errors.js'
import {type ObjectRefinement, pairRefinement, parseAnswer, parseRefinement} from '../../core/eval/answer.js'
import type {EvalSample, EvalSettings, SamplePlan} from '../../core/eval/plan.js'
import type {EvalLine} from '../../core/eval/summary.js'
import type {GridFrame} from '../../core/grid/grid.js'
import {cropMasksToMask} from '../../core/masks/crop-mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import type {ModelIdentity, SamEngine} from '../../sam/engine.js'
import {groundTruthCache} from '../eval/eval-lines.js'
import {type DecodedItem, decodeImageSamples} from '../eval/score-samples.js'
import {resolveImagePath} from '../shared/select-images.js'
import {type EvalRunFacts, readEvalRun, selectEvalLines} from './eval-source.js'
import type {RecordFilter} from './inspect-records.js'
import {evalCaption} from './eval-caption.js'
import {promptBoxes} from './render-record.js'
import {type PictureOutput, PictureWriter} from './write-pictures.js'

export interface EvalInspectInput extends PictureOutput {
  /** eval.jsonl or its folder */
  eval: string
  annotations?: string
  images?: string
  filter: RecordFilter
  size: number
  /** override the run's settings */
  rule?: DecodeRule
  policy?: MaskPolicy
  flipV?: boolean
  engine: () => Promise<SamEngine>
}

export interface EvalPictureSummary {
  line: number
  image: string
  image_id: number
  ann_ids: number[]
  task: string
  /** the last turn's IoU as inspect measured it (null for box and point answers) */
  iou: number | null
  /** the same in the eval line */
  eval_iou: number | null
  box_iou: number | null
  failure?: string
}

/** Pictures narrower than this get the compact caption (as records'). */
const COMPACT_BELOW = 400

export async function inspectEval(input: EvalInspectInput): Promise<{files: string[]; pictures: (EvalPictureSummary & {file: string})[]}> {
  const run = await readEvalRun(input.eval)
  const annotations = input.annotations ?? run.annotations
  const images = input.images ?? run.images
  if (!annotations) throw new GetokError("the eval folder's manifest names no annotations file: give --annotations", {file: run.file})
  if (!existsSync(annotations)) throw new GetokError('annotations file not found (named by the eval manifest)', {file: annotations})
  if (!images) throw new GetokError('eval lines name their images relative to an image root: give --images', {file: run.file})
  const lines = selectEvalLines(run.lines, input.filter, run.file)
  const data = await readCoco(annotations)
  const groups = groupByImage(lines, data, run.file)
  const engine = await input.engine()
  const longSide = input.sheet?.thumb ?? input.size
  const names = lines.map((l) => `line-${l.line}-${l.image_id}-${l.ann_ids.join('_')}.png`)
  const writer = await PictureWriter.open<EvalPictureSummary>(input, names)
  for (const {image, lines: group} of groups) {
    const file = resolveImagePath(images, image, annotations)
    const drawn = await drawImage(input, run, data, engine, image, file, group, longSide)
    for (const [k, r] of drawn.entries()) await writer.add(lines.indexOf(group[k]), r.picture, r.summary)
  }
  return writer.finish()
}

function groupByImage(lines: readonly EvalLine[], data: CocoDataset, file: string): {image: CocoImage; lines: EvalLine[]}[] {
  const groups = new Map<number, {image: CocoImage; lines: EvalLine[]}>()
  for (const l of lines) {
    const image = data.images.get(l.image_id)
    if (!image)
      throw new GetokError('the line names an image the annotations file lacks', {file, record: `line ${l.line}`, field: 'image_id'})
    const anns = new Set((data.annotationsByImage.get(image.id) ?? []).map((a) => a.id))
    const missing = l.ann_ids.find((a) => !anns.has(a))
    if (missing !== undefined)
      throw new GetokError(`annotation ${missing} is not an object of image ${image.id} in the annotations file`, {
        file,
        record: `line ${l.line}`,
        field: 'ann_ids',
      })
    const g = groups.get(image.id) ?? groups.set(image.id, {image, lines: []}).get(image.id)!
    g.lines.push(l)
  }
  return [...groups.values()]
}

/** The settings eval decoded with: the run's, or the caller's overrides; the grid is each line's. */
function settingsFor(input: EvalInspectInput, run: EvalRunFacts, n: number): {settings: EvalSettings; policy: MaskPolicy} {
  const rule = input.rule ?? run.rule
  if (!rule)
    throw new GetokError('no manifest.json or summary.json beside the eval lines names the decode rule: give --decode', {file: run.file})
  return {settings: {n, rule, flipV: input.flipV ?? run.flipV ?? false}, policy: input.policy ?? run.policy ?? 'single'}
}

async function drawImage(
  input: EvalInspectInput,
  run: EvalRunFacts,
  data: CocoDataset,
  engine: SamEngine,
  image: CocoImage,
  file: string,
  lines: readonly EvalLine[],
  longSide: number,
): Promise<{picture: RenderedPicture; summary: EvalPictureSummary}[]> {
  if (!existsSync(file)) throw new GetokError("the sample's image is missing", {file, record: `line ${lines[0].line}`, field: 'image'})
  const photo = await loadImage(file)
  if (photo.width !== image.width || photo.height !== image.height)
    throw new GetokError(
      'image size disagrees with the annotations file',
      {file},
      `${image.width}x${image.height}`,
      `${photo.width}x${photo.height}`,
    )
  const gt = groundTruthCache(data, image)
  let embedding: ReturnType<SamEngine['encode']> | undefined
  const embed = () => (embedding ??= resizeForSam(photo).then(({rgb, frame}) => engine.encode(rgb, frame)))
  const out: {picture: RenderedPicture; summary: EvalPictureSummary}[] = []
  // lines of one image may carry different grids (one eval run has one; a merged file may not)
  for (const l of lines) {
    const {settings, policy} = settingsFor(input, run, l.grid)
    const sample = sampleOf(l)
    const scorer = {engine, settings, policy, batch: 1}
    const [item] = await decodeImageSamples(scorer, image, embed, [{sample, gt: gt(l.ann_ids)}])
    const frame: GridFrame = {n: l.grid, width: image.width, height: image.height}
    const picture = evalPicture(l, sample, item, gt(l.ann_ids).mask, frame, settings, {
      model: engine.identity,
      evalModel: run.model,
      policy,
      compact: longSide < COMPACT_BELOW,
    })
    const turn = item.score.refined ?? item.score
    out.push({
      picture: await renderPicture(photo, picture, {longSide, palette: input.palette}),
      summary: {
        line: l.line,
        image: l.image,
        image_id: l.image_id,
        ann_ids: l.ann_ids,
        task: l.task,
        iou: turn.iou,
        eval_iou: (l.refined ?? l).iou,
        box_iou: turn.box_iou,
        ...(turn.failure ? {failure: turn.failure} : {}),
      },
    })
  }
  return out
}

function sampleOf(l: EvalLine): EvalSample {
  return {
    image_id: l.image_id,
    ann_ids: l.ann_ids,
    split: l.split,
    task: l.task,
    answer: l.answer,
    ...(l.refinement !== undefined ? {refinement: l.refinement} : {}),
  }
}

export interface CaptionContext {
  model: ModelIdentity
  evalModel?: {name?: string; hash?: string}
  policy: MaskPolicy
  compact: boolean
}

/** The sample's last turn as a picture: points (and their offsets), boxes as eval placed them, the fill, the truth. */
function evalPicture(
  l: EvalLine,
  sample: EvalSample,
  item: DecodedItem,
  gtMask: Picture['gt'],
  frame: GridFrame,
  s: EvalSettings,
  ctx: CaptionContext,
): Picture {
  const {plan} = item
  const refined = plan.refined && !plan.refined.failure ? objectRefinement(sample, plan, s.n) : undefined
  const last = plan.refined ?? plan.answer
  const marks: GridMark[] = plan.answer.objects.flatMap((o, k) => {
    const offsets = refined?.[k]?.offsets
    return o.cells.map((cell, c) => ({cell, offset: offsets && offsets.length > 0 ? offsets[c] : undefined}))
  })
  const boxed = plan.answer.objects.map((o, k) => ({cells: o.cells, box: o.box, boxMoves: refined?.[k]?.boxMoves}))
  const masks = plan.refined ? item.masks.refined : item.masks.answer
  const decoded = !last.failure && last.prompts.length > 0 ? cropMasksToMask(masks, frame.width, frame.height) : undefined
  return {
    grid: frame,
    flipV: s.flipV,
    marks,
    promptBoxes: promptBoxes(boxed, frame, s.flipV),
    decoded,
    gt: gtMask,
    caption: evalCaption(l, item.score, s, ctx),
  }
}

/** The refinement of each answer object, as eval paired it. */
function objectRefinement(sample: EvalSample, plan: SamplePlan, n: number): ObjectRefinement[] | undefined {
  const parsed = parseAnswer(sample.answer, n)
  if (!parsed.ok) return undefined
  const refinement =
    sample.refinement !== undefined ? parseRefinement(sample.refinement, n) : {ok: true as const, value: parsed.value.inlineRefinement}
  if (!refinement.ok || !refinement.value) return undefined
  const paired = pairRefinement(plan.answer.objects, refinement.value)
  return paired.ok ? paired.value : undefined
}
