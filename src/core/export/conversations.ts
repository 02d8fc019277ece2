/**
 * Curated objects (and offsets records) → training conversations, one per
 * task and referring expression. Pure: no files; the trainer's record shape is
 * trainer-formats' job, the `<image>` tag included.
 *
 *   seg     "Please segment the cat."            → <seg><grid_8_8></seg>
 *   box     "Please locate the cat with a …"     → <box><grid_3_6><grid_12_11></box>
 *   point   "Please point to the cat."           → <grid_8_8>
 *   refine  turn 1: "Please segment the cat." → prev <seg>…</seg> (not trained where the trainer can say so)
 *           turn 2: "Please refine …"         → <offset><seg>…</seg></offset>
 *   multi   "Please segment all the couches."    → <seg>…</seg>, <seg>…</seg>
 *
 * Box-rule records (SPEC §8, box-rule.ts): seg and multi answers are the box then the points, and a
 * second turn "Please refine the box corners …" answers the record's box_offsets; refine's turns
 * carry the box and its moves too; point is skipped for an object of zero points.
 *
 * Who is referred to: with expressions (refs pickle or JSONL), each sentence
 * whose annotation was curated; without, "the <category>" for objects alone in
 * their category in their image. Never "the cat" where the image has two cats
 * (skipped, counted); "all the cats" is fine. An image where curate skipped
 * any annotation is uncertain (that annotation's category is unknown here), so
 * neither fallback expressions nor "all the X" are made for it.
 *
 * One conversation at a time: conversation-source.ts says which are made and in what order (multi.ts
 * makes "all the X"), so that export never holds them all.
 */
import {type Cell, sortCellsRaster} from '../grid/grid.js'
import {type TemplateVars, type Templates, fillTemplate, pickVariant, pluralCategory} from './templates.js'
import {type TokenStyle, gridToken} from '../grid/tokens.js'
import type {Referent} from './referents.js'
import {ruleAnswer, ruleTarget} from './box-rule.js'
import type {DecodeRule} from '../decode/prompts.js'

export const TASKS = ['seg', 'box', 'point', 'refine', 'multi'] as const
export type TaskName = (typeof TASKS)[number]
export const REFINE_FORMS = ['two-turn', 'one-turn'] as const
export type RefineForm = (typeof REFINE_FORMS)[number]
export type ExpressionOrigin = 'refs' | 'jsonl' | 'category'

/** What a conversation needs of a `curate` record. */
export interface CuratedObject {
  image: string
  imageId: number
  annId: number
  category: string
  /** raster order */
  points: Cell[]
  seg: string
  box: string
  iou: number
  /** the record's decode rule; absent: union (a record made before the box rule) */
  decode?: DecodeRule
  /** box rule only: the corners' moves, `<offset><box>…</box></offset>` (offsets' dv sign when exported with --offsets) */
  boxOffsets?: string
  /** the pointing answer curate chose from the object's mask (core/grid/pointing.ts); absent before 0.4.0 */
  point?: string
}

/** What a conversation needs of an `offsets` record. */
export interface RefinementObject {
  imageId: number
  annId: number
  prev: string
  target: string
}

export interface ExpressionEntry {
  annId: number
  imageId?: number
  expression: string
  split?: string
  sentId?: number
}

export interface Turn {
  user: string
  assistant: string
  /** false: the answer is context (a simulated earlier prediction), not a target */
  train: boolean
}

export interface Conversation {
  id: string
  task: TaskName
  split: string
  image: string
  imageId: number
  annIds: number[]
  expression: string
  expressionSource: ExpressionOrigin
  turns: Turn[]
}

export interface ExportSkip {
  image_id: number
  ann_id?: number
  task?: TaskName
  reason: string
}

export interface BuildOptions {
  tasks: readonly TaskName[]
  grid: number
  style: TokenStyle
  templates: Templates
  refineForm: RefineForm
  /** seg, point and multi answers need the curated IoU to reach this */
  minIou: number
  /** split of conversations whose source has none */
  defaultSplit: string
  /** null: no expressions given, fall back to category names */
  expressions: {source: 'refs' | 'jsonl'; entries: readonly ExpressionEntry[]} | null
  /** images with annotations that curate skipped */
  uncertainImages: ReadonlySet<number>
}

export interface ExpressionStats {
  source: ExpressionOrigin
  /** expressions read (sentences for refs) */
  total: number
  /** expressions joined to a curated object */
  matched: number
  /** expressions whose annotation was not curated */
  not_curated: number
  /** expressions whose image id disagrees with the curated record's */
  image_mismatch: number
  /** curated objects with no expression (no single-instance conversations for them) */
  objects_without_expression: number
}

function vars(ref: Referent, extra: TemplateVars = {}): TemplateVars {
  return {expression: ref.expression, category: ref.object.category, categories: pluralCategory(ref.object.category), ...extra}
}

function conversation(task: TaskName, ref: Referent, turns: Turn[]): Conversation {
  const o = ref.object
  return {
    id: `${o.imageId}_${o.annId}_${ref.key}_${task}`,
    task,
    split: ref.split,
    image: o.image,
    imageId: o.imageId,
    annIds: [o.annId],
    expression: ref.expression,
    expressionSource: ref.source,
    turns,
  }
}

export function ask(o: BuildOptions, key: keyof Templates['prompts'], id: string, v: TemplateVars): string {
  return fillTemplate(pickVariant(o.templates.prompts[key], id), v)
}

export function answer(o: BuildOptions, task: keyof Templates['answers'], tokens: string): string {
  return fillTemplate(o.templates.answers[task], {answer: tokens})
}

/** seg, box or point; a string is the reason it was skipped. */
export function singleConversation(task: 'seg' | 'box' | 'point', ref: Referent, o: BuildOptions): Conversation | string {
  const obj = ref.object
  // a record's own pointing answer comes from the object's mask, like a box from COCO's: kept whatever the IoU
  const fromMask = task === 'box' || (task === 'point' && obj.point !== undefined)
  if (!fromMask && obj.iou < o.minIou) return `curated IoU ${obj.iou} below --min-iou ${o.minIou}`
  if (task === 'point' && !fromMask && obj.points.length === 0) return 'no grid points to point with (the box rule chose the box alone)'
  const tokens = task === 'seg' ? ruleAnswer(obj) : task === 'box' ? obj.box : pointingAnswer(obj, o.grid, o.style)
  const id = `${obj.imageId}_${obj.annId}_${ref.key}_${task}`
  const first: Turn = {user: ask(o, task, id, vars(ref)), assistant: answer(o, task, tokens), train: true}
  if (task !== 'seg' || obj.boxOffsets === undefined) return conversation(task, ref, [first])
  return conversation(task, ref, [first, boxOffsetsTurn(o, id, vars(ref), obj.boxOffsets)])
}

/** The box rule's second turn: the box corners' moves to the half-cell lattice (the record's mask needs them). */
export function boxOffsetsTurn(o: BuildOptions, id: string, v: TemplateVars, boxOffsets: string): Turn {
  return {user: ask(o, 'refine_box', id, v), assistant: answer(o, 'refine', boxOffsets), train: true}
}

export function refineConversation(ref: Referent, r: RefinementObject | undefined, o: BuildOptions): Conversation | string {
  if (!r) return 'no offsets record for this annotation'
  if (r.imageId !== ref.object.imageId) return `offsets record is for image ${r.imageId}, curated for image ${ref.object.imageId}`
  const id = `${ref.object.imageId}_${ref.object.annId}_${ref.key}_refine`
  // under the box rule the simulated answer holds the curated box, and the target its moves before the points' offsets
  const prev = ruleAnswer({...ref.object, seg: r.prev})
  const target = answer(o, 'refine', ruleTarget(ref.object, r.target))
  if (o.refineForm === 'one-turn') {
    return conversation('refine', ref, [{user: ask(o, 'refine_one_turn', id, vars(ref, {prev})), assistant: target, train: true}])
  }
  return conversation('refine', ref, [
    {user: ask(o, 'seg', id, vars(ref)), assistant: prev, train: false},
    {user: ask(o, 'refine', id, vars(ref)), assistant: target, train: true},
  ])
}

/** The pointing answer: the record's own (since 0.4.0), else pointToken of its curated points. */
export function pointingAnswer(obj: Pick<CuratedObject, 'point' | 'points'>, n: number, style: TokenStyle): string {
  return obj.point ?? pointToken(obj.points, n, style)
}

/**
 * The pointing answer of a record written before 0.4.0: of the curated points (each one whose SAM
 * mask covers part of the object), the one nearest their mean; ties go to raster order.
 */
export function pointToken(points: readonly Cell[], n: number, style: TokenStyle): string {
  const cells = sortCellsRaster(points, n)
  if (cells.length === 0) throw new Error('an object without points')
  const mi = cells.reduce((s, c) => s + c[0], 0) / cells.length
  const mj = cells.reduce((s, c) => s + c[1], 0) / cells.length
  let best = cells[0]
  let bestD = Infinity
  for (const c of cells) {
    const d = (c[0] - mi) ** 2 + (c[1] - mj) ** 2
    if (d < bestD - 1e-12) {
      best = c
      bestD = d
    }
  }
  return gridToken(best[0], best[1], style)
}
