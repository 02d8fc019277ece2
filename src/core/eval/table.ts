/**
 * The summary as the RefCOCO papers print it: splits as columns (val, testA, testB, test, then
 * the rest), figures ×100 with one decimal, a dash where a figure has no sample. The figures before
 * refinement are the model's own answers; "given answers" counts those it was handed (summary.ts).
 *
 *   metric          val  testA  testB    all
 *   RES cIoU       71.3   74.0   68.2   71.2
 *   RES gIoU       73.0   75.1   70.4   72.9
 *   REC Acc@0.5    85.1   88.0   80.3   84.5
 *   …
 */
import type {EvalSummary, Figures, RefinedFigures} from './summary.js'

const SPLIT_ORDER = ['val', 'testA', 'testB', 'test']

export function orderSplits(splits: readonly string[]): string[] {
  const rank = (s: string) => (SPLIT_ORDER.includes(s) ? SPLIT_ORDER.indexOf(s) : SPLIT_ORDER.length)
  return [...splits].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : (100 * v).toFixed(1))

type Row = [label: string, pick: (f: Figures & Partial<RefinedFigures>) => string]

const BEFORE: Row[] = [
  ['RES cIoU', (f) => pct(f.ciou)],
  ['RES gIoU', (f) => pct(f.giou)],
  ['REC Acc@0.5', (f) => pct(f.box_acc50)],
  ['point acc', (f) => pct(f.point_acc)],
  ['samples', (f) => String(f.samples)],
  ['failed', (f) => String(f.failed)],
]
/** only when some answers were given to the model (refine inputs, a trainer's teacher-forced turns): not in the rows above */
const GIVEN: Row = ['given answers', (f) => String(f.answers_from_data)]
const AFTER: Row[] = [
  ['refined cIoU', (f) => pct(f.ciou)],
  ['refined gIoU', (f) => pct(f.giou)],
  ['refined Acc@0.5', (f) => pct(f.box_acc50)],
  ['offset acc', (f) => pct(f.offset_acc)],
  ['refined samples', (f) => String(f.samples)],
]

export function formatEvalTable(summary: EvalSummary): string {
  const splits = orderSplits(Object.keys(summary.by_split))
  const header = ['metric', ...splits, 'all']
  const before = summary.answers_from_data > 0 ? [...BEFORE, GIVEN] : BEFORE
  const rows: string[][] = before.map(([label, pick]) => [label, ...splits.map((s) => pick(summary.by_split[s])), pick(summary)])
  const refined = summary.refined
  if (refined) {
    const none = (s: string) => refined.by_split[s] ?? null
    for (const [label, pick] of AFTER) rows.push([label, ...splits.map((s) => (none(s) ? pick(none(s)!) : '–')), pick(refined)])
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)))
  const line = (cells: string[]) => cells.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}
