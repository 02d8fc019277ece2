/**
 * Scoring one sample against its ground truth (SPEC §9), given the masks SAM decoded for its plan.
 *
 *   iou          |P ∩ G| / |P ∪ G|, P the union of the decoded masks, G the union of the referred
 *                objects; 0 for a failed answer (then |P ∩ G| = 0, |P ∪ G| = |G| for cIoU)
 *   box_iou      IoU of the answer's box (corner anchors, moved by box offsets after refinement)
 *                with the COCO box; 0 where a box was expected and the answer has none
 *   point_hit    point task: the pixel holding the point is in G
 *   offset_acc   refinement: the share of the offset tokens that §5 calls right for their point:
 *                a point whose anchor is in G must keep <OFF_0_0>; a point outside G must move by
 *                a step that lands in G, or be <DELETE>d where none of its nine landing points does;
 *                a refinement that fails to parse or pair counts every token it owed as wrong; one that
 *                paired is judged token by token even where its turn fails to decode (no_box)
 *
 * "In G" is the §5 convention (core/offsets/regions.ts): the pixel that holds the continuous
 * point, and a point outside the image is not in G.
 */
import {type Cell, type GridFrame, MOVES} from '../grid/grid.js'
import type {OffsetTarget} from '../grid/tokens.js'
import {type BoxXywh, boxXywhIou} from '../masks/box.js'
import {type CropMask, cropMasksToMask} from '../masks/crop-mask.js'
import {type Mask, maskArea, unionInto} from '../masks/mask.js'
import {landingPixel} from '../offsets/regions.js'
import type {FailureReason} from './answer.js'
import {type EvalSettings, type SamplePlan, type TurnPlan, boxAround, isMaskTask} from './plan.js'

export interface GroundTruth {
  /** the union of the referred objects' masks */
  mask: Mask
  /** the box around their COCO boxes */
  boxXywh: BoxXywh
  area: number
}

/**
 * The ground truth of one or several referred objects. One object's mask is taken as it is, not copied
 * (scoring only reads it): a cached annotation mask is then held once, not once more per sample.
 */
export function groundTruth(masks: readonly Mask[], boxes: readonly BoxXywh[]): GroundTruth {
  if (masks.length === 0) throw new Error('a sample refers to at least one object')
  if (masks.length === 1) return {mask: masks[0], boxXywh: boxAround(boxes), area: maskArea(masks[0])}
  const mask: Mask = {width: masks[0].width, height: masks[0].height, data: new Uint8Array(masks[0].data)}
  for (const m of masks.slice(1)) unionInto(mask, m)
  return {mask, boxXywh: boxAround(boxes), area: maskArea(mask)}
}

/** What one turn scored. `inter` and `union` are pixel counts, kept so cIoU can be summed over samples. */
export interface TurnScore {
  iou: number | null
  inter: number | null
  union: number | null
  box_iou: number | null
  point_hit: boolean | null
  format_ok: boolean
  failure?: FailureReason
  detail?: string
  /** refined turns */
  offset_acc?: number | null
  offsets_right?: number
  offsets_total?: number
}

export interface SampleScore extends TurnScore {
  task: SamplePlan['task']
  refined?: TurnScore
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6

/** Score a planned sample; `masks` holds the decoded masks of each turn's prompts, in order. */
export function scoreSample(
  plan: SamplePlan,
  masks: {answer: readonly CropMask[]; refined?: readonly CropMask[]},
  gt: GroundTruth,
  frame: GridFrame,
  s: EvalSettings,
): SampleScore {
  const answer = scoreTurn(plan, plan.answer, masks.answer, gt, frame, s)
  if (!plan.refined) return {task: plan.task, ...answer}
  return {task: plan.task, ...answer, refined: scoreTurn(plan, plan.refined, masks.refined ?? [], gt, frame, s)}
}

function scoreTurn(
  plan: SamplePlan,
  turn: TurnPlan,
  masks: readonly CropMask[],
  gt: GroundTruth,
  frame: GridFrame,
  s: EvalSettings,
): TurnScore {
  const ok = !turn.failure
  const score: TurnScore = {iou: null, inter: null, union: null, box_iou: null, point_hit: null, format_ok: ok}
  if (turn.failure) Object.assign(score, {failure: turn.failure.failure, detail: turn.failure.detail})
  if (isMaskTask(plan.task)) {
    const {inter, union} = ok ? overlap(cropMasksToMask(masks, frame.width, frame.height), gt.mask) : {inter: 0, union: gt.area}
    Object.assign(score, {iou: union === 0 ? 0 : round6(inter / union), inter, union})
  }
  const boxExpected = plan.task === 'box' || (isMaskTask(plan.task) && s.rule === 'box')
  if (turn.boxXywh && ok) score.box_iou = round6(boxXywhIou(turn.boxXywh, gt.boxXywh))
  else if (boxExpected) score.box_iou = 0
  if (plan.task === 'point') score.point_hit = ok && turn.point !== undefined && pointInMask(turn.point, gt.mask)
  if (turn.offsets) {
    // offsets that parsed and paired are judged point by point (§5) even when the turn cannot be decoded
    // (a box-rule answer without its <box>): each one's rightness is the point's, not the mask's
    const right = turn.offsets.filter(({cell, target}) => offsetIsRight(cell, target, gt.mask, frame, s.flipV)).length
    const total = turn.offsets.length
    Object.assign(score, {offset_acc: total === 0 ? null : round6(right / total), offsets_right: right, offsets_total: total})
  } else if (plan.refined === turn) {
    const owed = turn.failure ? owedOffsets(plan.task, turn, s) : 0
    Object.assign(score, {offset_acc: owed === 0 ? null : 0, offsets_right: 0, offsets_total: owed})
  }
  return score
}

/**
 * The offset tokens a refinement that failed to parse or pair still owed: one per grid token of the
 * answer (SPEC §2), all counted wrong, so that garbage cannot raise offset_acc by dropping out of it.
 * The box rule's seg and multi refinement moves the box corners only, so it owes none.
 */
function owedOffsets(task: SamplePlan['task'], turn: TurnPlan, s: EvalSettings): number {
  if (s.rule === 'box' && task !== 'refine') return 0
  return turn.objects.reduce((k, o) => k + o.cells.length, 0)
}

/** |A ∩ B| and |A ∪ B| of two full-size masks. */
export function overlap(a: Mask, b: Mask): {inter: number; union: number} {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`mask sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`)
  let inter = 0
  let union = 0
  for (let k = 0; k < a.data.length; k++) {
    inter += a.data[k] & b.data[k]
    union += a.data[k] | b.data[k]
  }
  return {inter, union}
}

function pointInMask([x, y]: readonly [number, number], g: Mask): boolean {
  const px = Math.floor(x)
  const py = Math.floor(y)
  return px >= 0 && py >= 0 && px < g.width && py < g.height && g.data[py * g.width + px] === 1
}

function landsIn(cell: Cell, move: readonly [number, number], g: Mask, frame: GridFrame, flipV: boolean): boolean {
  const p = landingPixel(cell[0], cell[1], [move[0], move[1]], frame, flipV)
  return p !== null && g.data[p[1] * g.width + p[0]] === 1
}

/** Whether §5 calls an offset token right for its grid point (see the header). */
export function offsetIsRight(cell: Cell, target: OffsetTarget, g: Mask, frame: GridFrame, flipV = false): boolean {
  const inside = landsIn(cell, [0, 0], g, frame, flipV)
  if (target === 'delete') return !MOVES.some((m) => landsIn(cell, m, g, frame, flipV))
  if (inside) return target[0] === 0 && target[1] === 0
  return landsIn(cell, target, g, frame, flipV)
}
