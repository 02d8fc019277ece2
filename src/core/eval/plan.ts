/**
 * One sample to score (SPEC §9) and what scoring it needs: the decoder prompts of its answer under
 * the decode rule (§8), its box in pixels, its point, and, after a refinement turn, the same with
 * the offsets applied and deleted points dropped. Pure: SAM runs elsewhere (pipeline/eval).
 *
 *   task   expects                         scored by
 *   seg    <seg>…</seg> (box rule: + <box>) mask IoU (gIoU, cIoU); box IoU where the answer has a box
 *   multi  several objects joined by ", "   mask IoU against the union of the referred objects
 *   refine a grid answer + offsets          as seg, before and after the offsets; offset_acc
 *   box    <box>…</box>                     box IoU with the COCO box (Acc@0.5)
 *   point  one grid token                   whether its point lies in the ground truth
 */
import {type Cell, type GridFrame, cellToAnchor, landingPoint} from '../grid/grid.js'
import type {OffsetTarget} from '../grid/tokens.js'
import type {BoxXywh} from '../masks/box.js'
import {type DecodeRule, type Pixel, type SamPrompt, type TokenAnswer, answerBoxCorners, answerToPrompts} from '../decode/prompts.js'
import {type AnswerObject, type Failure, type ObjectRefinement, pairRefinement, parseAnswer, parseRefinement} from './answer.js'

export const EVAL_TASKS = ['seg', 'box', 'point', 'multi', 'refine'] as const
export type EvalTask = (typeof EVAL_TASKS)[number]
const MASK_TASKS: ReadonlySet<EvalTask> = new Set(['seg', 'multi', 'refine'])

export function isMaskTask(task: EvalTask): boolean {
  return MASK_TASKS.has(task)
}

/** A sample as eval and the reward server take it: ids into the COCO file, the answer, its refinement. */
export interface EvalSample {
  image_id: number
  /** the referred objects: one, or several for a multi-instance expression */
  ann_ids: number[]
  split: string
  /** absent: inferred from the answer (inferTask) */
  task?: EvalTask
  answer: string
  /** the refinement turn's offset tokens */
  refinement?: string
  /**
   * Who wrote `answer`: "data" for an answer the model was given, not asked for (a refine sample's
   * simulated previous prediction, or an earlier turn a trainer's predict run took from the data file);
   * its figures are kept apart from the model's (summary.ts). Absent: the model.
   */
  answer_from?: 'model' | 'data'
}

/** How answers become masks: the curated data's grid, decode rule and offset sign convention. */
export interface EvalSettings {
  n: number
  rule: DecodeRule
  flipV: boolean
}

/** What an answer that does not say its task is taken for: by its shape, seg when it does not parse. */
export function inferTask(answer: string, n: number): EvalTask {
  const parsed = parseAnswer(answer, n)
  if (!parsed.ok) return 'seg'
  const {objects} = parsed.value
  if (objects.length > 1) return 'multi'
  const [o] = objects
  // a box-rule answer of the box alone still writes its (empty) <seg>: a mask answer, not a box
  if (o.box && o.cells.length === 0 && !o.seg) return 'box'
  if (!o.box && !o.seg && o.cells.length === 1) return 'point'
  return 'seg'
}

/** One turn (the answer, or the answer refined), ready for SAM and for scoring. */
export interface TurnPlan {
  failure?: Failure
  /** the parsed objects (for the eval record) */
  objects: AnswerObject[]
  /** decoder prompts, mask tasks only: their masks' union is the prediction */
  prompts: SamPrompt[]
  /** the answer's box in pixels (several objects: the box around their boxes), when every object has one */
  boxXywh?: BoxXywh
  /** point task: the point in pixels */
  point?: Pixel
  /** refined turns: each grid point with its offset, for offset_acc */
  offsets?: {cell: Cell; target: OffsetTarget}[]
}

export interface SamplePlan {
  task: EvalTask
  answer: TurnPlan
  /** present when the sample has a refinement (its own turn, or offsets written in the answer) */
  refined?: TurnPlan
}

export function planSample(sample: EvalSample, frame: GridFrame, s: EvalSettings): SamplePlan {
  const task = sample.task ?? inferTask(sample.answer, s.n)
  const parsed = parseAnswer(sample.answer, s.n)
  if (!parsed.ok) {
    const failed = {failure: {failure: parsed.failure, detail: parsed.detail}, objects: [], prompts: []}
    return {task, answer: failed, ...(sample.refinement !== undefined ? {refined: failed} : {})}
  }
  const {objects, inlineRefinement} = parsed.value
  const answer = planTurn(task, objects, undefined, frame, s)
  if (sample.refinement === undefined && !inlineRefinement) return {task, answer}
  const refinement =
    sample.refinement !== undefined ? parseRefinement(sample.refinement, s.n) : {ok: true as const, value: inlineRefinement!}
  const paired = refinement.ok ? pairRefinement(objects, refinement.value) : refinement
  if (!paired.ok) return {task, answer, refined: {failure: {failure: paired.failure, detail: paired.detail}, objects, prompts: []}}
  return {task, answer, refined: planTurn(task, objects, paired.value, frame, s)}
}

function planTurn(
  task: EvalTask,
  objects: AnswerObject[],
  refinement: readonly ObjectRefinement[] | undefined,
  frame: GridFrame,
  s: EvalSettings,
): TurnPlan {
  // an object refined by its box alone has no point offsets: its points stay
  const pointOffsets = (k: number) => (refinement && refinement[k].offsets.length > 0 ? refinement[k].offsets : undefined)
  const answers: TokenAnswer[] = objects.map((o, k) => ({
    cells: o.cells,
    box: o.box,
    offsets: pointOffsets(k),
    boxMoves: refinement?.[k].boxMoves,
  }))
  const plan: TurnPlan = {objects, prompts: []}
  if (refinement)
    plan.offsets = objects.flatMap((o, k) => (pointOffsets(k) ? o.cells.map((cell, c) => ({cell, target: pointOffsets(k)![c]})) : []))
  if (answers.every((a) => a.box))
    plan.boxXywh = boxAround(answers.map((a) => cornersToXywh(answerBoxCorners(a.box!, a.boxMoves, frame, s.flipV))))
  const failed = (failure: Failure['failure'], detail: string): TurnPlan => ({...plan, failure: {failure, detail}})
  if (task === 'box') return plan.boxXywh ? plan : failed('no_box', 'a box answer needs a <box> for every object')
  if (task === 'point') {
    if (objects.length !== 1 || objects[0].cells.length !== 1) return failed('no_point', 'a point answer is one grid token')
    const [i, j] = objects[0].cells[0]
    const off = pointOffsets(0)?.[0]
    plan.point = !off ? cellToAnchor(i, j, frame) : off === 'delete' ? undefined : landingPoint(i, j, off, frame, s.flipV)
    return plan
  }
  if (s.rule === 'box' && !answers.every((a) => a.box))
    return failed('no_box', 'the box decode rule needs a <box> for every object of the answer')
  plan.prompts = answers.flatMap((a) => answerToPrompts(s.rule, a, frame, s.flipV))
  // Before refinement an answer that names no point is no mask at all; after it, deleting every point is an answer (IoU 0).
  if (!refinement && plan.prompts.length === 0) return failed('no_mask', 'the answer names no grid point to decode')
  return plan
}

/** Box corners in pixels → [x, y, w, h]; corners given the wrong way round make an empty box. */
export function cornersToXywh([[x0, y0], [x1, y1]]: readonly [Pixel, Pixel]): BoxXywh {
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)]
}

/** The smallest box around COCO boxes (the referred objects of a multi-instance sample). */
export function boxAround(boxes: readonly BoxXywh[]): BoxXywh {
  const x0 = Math.min(...boxes.map((b) => b[0]))
  const y0 = Math.min(...boxes.map((b) => b[1]))
  const x1 = Math.max(...boxes.map((b) => b[0] + b[2]))
  const y1 = Math.max(...boxes.map((b) => b[1] + b[3]))
  return [x0, y0, x1 - x0, y1 - y0]
}
