/**
 * The reward server's wire format (SPEC §10): what POST /score takes and answers, and the one
 * error shape. Scores are `getok eval`'s (core/eval/score.ts), field for field.
 *
 *   POST /score  {"image_id": 25560, "ann_id": 29572, "answer": "<seg><grid_4_0></seg>"}
 *            →   {"task": "seg", "iou": 0.93705, "box_iou": null, "format_ok": true}
 *
 *   POST /score  [{"image_id": 25560, "ann_ids": [29572, 48152], "answer": "..."},
 *                 {"image": "000000025560.jpg", "gt": {"segmentation": [[x1, y1, ...]], "width": 640, "height": 480},
 *                  "answer": "<seg><grid_4_0></seg>", "refinement": "<offset><seg><OFF_0_1></seg></offset>"}]
 *            →   [{...}, {"task": "seg", "iou": …, "box_iou": null, "format_ok": true,
 *                 "refined": {"iou": …, "box_iou": null, "offset_acc": 1, "format_ok": true}}]
 *
 *   a list answers a list, in the same order; one sample answers one object
 *   iou          mask IoU (mask tasks; null for box and point answers)
 *   box_iou      IoU of the answer's box with the ground-truth box (null where the answer has no box
 *                and none was expected)
 *   format_ok    the answer parsed and named what its task needs; else iou 0 and `failure` says why
 *   point_hit    point answers only
 *   refined      with a refinement turn: the same after the offsets, and offset_acc (SPEC §9)
 *   errors       any 4xx/5xx: {"error": "<field>: what is wrong"}
 */
import type {EvalTask} from '../core/eval/plan.js'
import type {SampleScore, TurnScore} from '../core/eval/score.js'
import type {BoxXywh} from '../core/masks/box.js'

/** A failure with the status it answers, and a message that names the field. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** extra response headers (Allow for 405) */
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

interface SampleCommon {
  answer: string
  /** the refinement turn's offset tokens */
  refinement?: string
  /** absent: inferred from the answer, as eval does */
  task?: EvalTask
  /** where the sample is in the request, for error messages: "" for one sample, "[3]" in a list */
  at: string
}

/** Ground truth from the COCO file the server was started with. */
export interface CocoSampleRequest extends SampleCommon {
  kind: 'coco'
  image_id: number
  ann_ids: number[]
}

/** One object of ground truth sent with the sample: any COCO segmentation form at the image's size. */
export interface GtObject {
  segmentation: unknown
  width: number
  height: number
  /** COCO [x, y, w, h]; default: the mask's tight box */
  bbox?: BoxXywh
}

/** Ground truth sent with the sample, on an image under --images. */
export interface GtSampleRequest extends SampleCommon {
  kind: 'gt'
  /** path relative to --images */
  image: string
  /** one object, or several (a multi-instance expression: their union) */
  gt: GtObject[]
}

export type SampleRequest = CocoSampleRequest | GtSampleRequest

export interface TurnReply {
  iou: number | null
  box_iou: number | null
  format_ok: boolean
  /** why the turn failed (answer.ts's reasons), when format_ok is false */
  failure?: string
}

export interface SampleReply extends TurnReply {
  task: EvalTask
  point_hit?: boolean | null
  refined?: TurnReply & {offset_acc: number | null}
}

/** A scored sample as the server answers it. */
export function sampleReply(score: SampleScore): SampleReply {
  const reply: SampleReply = {task: score.task, ...turnReply(score)}
  if (score.task === 'point') reply.point_hit = score.point_hit
  if (score.refined) reply.refined = {...turnReply(score.refined), offset_acc: score.refined.offset_acc ?? null}
  return reply
}

function turnReply(t: TurnScore): TurnReply {
  const out: TurnReply = {iou: t.iou, box_iou: t.box_iou, format_ok: t.format_ok}
  if (t.failure) out.failure = t.failure
  return out
}
