/**
 * Per-sample eval records → the figures RefCOCO papers report (SPEC §9), overall, per split and
 * per task, before and after the refinement turn.
 *
 *   giou       mean of the per-sample mask IoUs (mask tasks: seg, multi, refine)
 *   ciou       Σ |P ∩ G| / Σ |P ∪ G| over the same samples
 *   box_acc50  share of the samples with a box to score whose box IoU is ≥ 0.5
 *   point_acc  share of the point answers whose point lies in the ground truth
 *   offset_acc share of all offset tokens §5 calls right (pooled over samples, not averaged)
 *
 * A failed answer stays in every denominator it belongs to, scoring 0. A figure with no sample to
 * measure it is null.
 *
 * The figures before refinement are the model's answers only. An answer the model was given
 * (`answer_from: "data"`: a refine sample's simulated previous prediction, or an earlier turn a
 * trainer's predict run took from the data file) is counted in `answers_from_data` and scored
 * apart, under `inputs`: what the refinement started from. Its refinement is the model's and counts
 * in `refined` like any other.
 */
import type {Cell} from '../grid/grid.js'
import type {FailureReason} from './answer.js'
import type {EvalTask} from './plan.js'
import type {TurnScore} from './score.js'

/** One line of eval.jsonl. */
export interface EvalLine extends TurnScore {
  /** the line of the predictions file (from 1) */
  line: number
  /** image path relative to the image root (COCO file_name), and the grid size: what inspect needs to draw the line */
  image: string
  grid: number
  image_id: number
  ann_ids: number[]
  split: string
  task: EvalTask
  answer: string
  /** who wrote `answer` (EvalSample.answer_from); lines written before 0.4.0 lack it: the model */
  answer_from?: 'model' | 'data'
  refinement?: string
  /** the answer's parsed tokens, one entry per object */
  objects: {box?: [Cell, Cell]; cells: Cell[]}[]
  refined?: TurnScore
}

export interface Figures {
  samples: number
  failed: number
  giou: number | null
  ciou: number | null
  box_acc50: number | null
  point_acc: number | null
  /** the denominators */
  mask_samples: number
  box_samples: number
  point_samples: number
  /** samples whose answer the model was given, not asked for: in `samples`, in no figure above */
  answers_from_data: number
}

export interface RefinedFigures extends Figures {
  offset_acc: number | null
  offset_tokens: number
}

export interface SplitFigures<F> {
  by_task: Record<string, F>
}

export interface EvalSummary extends Figures {
  failure_reasons: Partial<Record<FailureReason, number>>
  by_split: Record<string, Figures & SplitFigures<Figures>>
  by_task: Record<string, Figures>
  /** the answers the model was given, scored as answers: where refinement started from */
  inputs?: Figures & {by_task: Record<string, Figures>}
  /** the same over the samples with a refinement turn, scored after it */
  refined?: RefinedFigures & {
    failure_reasons: Partial<Record<FailureReason, number>>
    by_split: Record<string, RefinedFigures & SplitFigures<RefinedFigures>>
  }
}

class Tally {
  samples = 0
  failed = 0
  iouSum = 0
  inter = 0
  union = 0
  masks = 0
  boxHits = 0
  boxes = 0
  pointHits = 0
  points = 0
  offRight = 0
  offTotal = 0
  fromData = 0

  /** `given`: an answer the model did not write: counted, not scored */
  add(s: TurnScore, given = false): void {
    this.samples++
    if (given) {
      this.fromData++
      return
    }
    if (!s.format_ok) this.failed++
    if (s.iou !== null) {
      this.masks++
      this.iouSum += s.iou
      this.inter += s.inter ?? 0
      this.union += s.union ?? 0
    }
    if (s.box_iou !== null) {
      this.boxes++
      if (s.box_iou >= 0.5) this.boxHits++
    }
    if (s.point_hit !== null) {
      this.points++
      if (s.point_hit) this.pointHits++
    }
    this.offRight += s.offsets_right ?? 0
    this.offTotal += s.offsets_total ?? 0
  }

  figures(): Figures {
    const share = (k: number, n: number) => (n === 0 ? null : round6(k / n))
    return {
      samples: this.samples,
      failed: this.failed,
      giou: share(this.iouSum, this.masks),
      ciou: this.masks === 0 ? null : this.union === 0 ? 0 : round6(this.inter / this.union),
      box_acc50: share(this.boxHits, this.boxes),
      point_acc: share(this.pointHits, this.points),
      mask_samples: this.masks,
      box_samples: this.boxes,
      point_samples: this.points,
      answers_from_data: this.fromData,
    }
  }

  refinedFigures(): RefinedFigures {
    return {...this.figures(), offset_acc: this.offTotal === 0 ? null : round6(this.offRight / this.offTotal), offset_tokens: this.offTotal}
  }
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6

/** Tallies keyed by split and by split + task, in first-seen order. */
class Grouped {
  readonly all = new Tally()
  readonly splits = new Map<string, Tally>()
  readonly splitTasks = new Map<string, Map<string, Tally>>()
  readonly tasks = new Map<string, Tally>()
  readonly reasons: Partial<Record<FailureReason, number>> = {}

  add(split: string, task: string, s: TurnScore, given = false): void {
    const get = <K>(m: Map<K, Tally>, k: K) => m.get(k) ?? m.set(k, new Tally()).get(k)!
    this.all.add(s, given)
    get(this.splits, split).add(s, given)
    get(this.tasks, task).add(s, given)
    get(this.splitTasks.get(split) ?? this.splitTasks.set(split, new Map()).get(split)!, task).add(s, given)
    if (s.failure && !given) this.reasons[s.failure] = (this.reasons[s.failure] ?? 0) + 1
  }
}

export function summariseEval(lines: readonly EvalLine[]): EvalSummary {
  const before = new Grouped()
  const inputs = new Grouped()
  const after = new Grouped()
  for (const l of lines) {
    const given = l.answer_from === 'data'
    before.add(l.split, l.task, l, given)
    if (given) inputs.add(l.split, l.task, l)
    if (l.refined) after.add(l.split, l.task, l.refined)
  }
  const bySplit = <F>(g: Grouped, f: (t: Tally) => F) =>
    Object.fromEntries(
      [...g.splits].map(([split, t]) => [
        split,
        {...f(t), by_task: Object.fromEntries([...g.splitTasks.get(split)!].map(([k, v]) => [k, f(v)]))},
      ]),
    )
  const summary: EvalSummary = {
    ...before.all.figures(),
    failure_reasons: before.reasons,
    by_split: bySplit(before, (t) => t.figures()),
    by_task: Object.fromEntries([...before.tasks].map(([k, t]) => [k, t.figures()])),
  }
  if (inputs.all.samples > 0)
    summary.inputs = {...inputs.all.figures(), by_task: Object.fromEntries([...inputs.tasks].map(([k, t]) => [k, t.figures()]))}
  if (after.all.samples > 0) {
    summary.refined = {...after.all.refinedFigures(), failure_reasons: after.reasons, by_split: bySplit(after, (t) => t.refinedFigures())}
  }
  return summary
}
