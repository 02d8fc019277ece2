/**
 * Prediction rows → samples: which image and which objects each answers, its split and task.
 *
 * Ids written in the row win (the plain form; exported rows that carry image_id/ann_ids). A row
 * without them is placed by its conversation: the image by its path (the COCO file_name, with any
 * --image-root prefix), the object by the reference answer the export wrote, which names it:
 *   box     the corner tokens of exactly one COCO box of the image (SPEC §2)
 *   seg     one curated record's token set per object (multi: one per ", " group)   needs --curated
 *   point   the pointing token export derives from one curated record's points       needs --curated
 *   refine  the one object for which every offset token of the reference is right (§5, score.ts)
 * A row that cannot be placed is not scored; it is counted with its reason.
 */
import {type CocoAnnotation, type CocoDataset, type CocoImage, annotationToMask} from '../../adapters/coco.js'
import type {CuratedObject} from '../../core/export/conversations.js'
import {pointingAnswer} from '../../core/export/conversations.js'
import {type Cell, boxXywhToCorners, sortCellsRaster} from '../../core/grid/grid.js'
import {parseAnswer, parseRefinement, tokenSpan} from '../../core/eval/answer.js'
import {type EvalSample, type EvalTask, inferTask} from '../../core/eval/plan.js'
import type {PredictionRow} from '../../core/eval/predictions.js'
import {offsetIsRight} from '../../core/eval/score.js'

export interface ResolveContext {
  data: CocoDataset
  n: number
  /** curated records by image id (from --curated), for rows placed by a seg or point answer */
  curated: ReadonlyMap<number, readonly CuratedObject[]> | null
  /** split for rows that name none */
  defaultSplit: string
  /** the offsets' dv sign convention (refine rows are placed by their offsets) */
  flipV: boolean
}

export type Resolved = {sample: EvalSample} | {unresolved: string}

export function resolveRow(row: PredictionRow, ctx: ResolveContext): Resolved {
  const task = row.task ?? taskOfRow(row, ctx.n)
  const turns = turnsOf(row, task)
  if (typeof turns === 'string') return {unresolved: turns}
  const split = row.split ?? ctx.defaultSplit
  if (row.imageId !== undefined && row.annIds !== undefined) {
    const problem = checkIds(row.imageId, row.annIds, ctx.data)
    return problem ? {unresolved: problem} : {sample: {image_id: row.imageId, ann_ids: row.annIds, split, task, ...turns}}
  }
  const image =
    row.imageId !== undefined ? ctx.data.images.get(row.imageId) : row.imagePath ? imageByPath(ctx.data, row.imagePath) : undefined
  if (!image) return {unresolved: row.imagePath ? `no COCO image with file_name ${row.imagePath}` : 'no image id or image path'}
  if (row.label === undefined) return {unresolved: 'no ids and no reference answer to find the object by'}
  const annIds = objectsOfLabel(task, row, image, ctx)
  if (typeof annIds === 'string') return {unresolved: annIds}
  return {sample: {image_id: image.id, ann_ids: annIds, split, task, ...turns}}
}

/** The task a row's reference answer has (an <offset> answer is a refinement), else its own answer's shape. */
function taskOfRow(row: PredictionRow, n: number): EvalTask {
  const label = row.label === undefined ? '' : tokenSpan(row.label)
  // the box rule's box-offsets turn refines a seg or multi answer: the task is that answer's
  if (isBoxTurn(row, n)) return inferTask(row.previous!, n)
  if (label.startsWith('<offset>')) return 'refine'
  if (label) return inferTask(label, n)
  if (row.refinement !== undefined) return inferTask(row.text, n)
  return tokenSpan(row.text).startsWith('<offset>') && row.previous ? 'refine' : inferTask(row.text, n)
}

/**
 * The answer and refinement a sample scores, and who wrote the answer. A row whose reference answer
 * is a refinement (or, without a reference, whose text is one) refines the answer before it: its text
 * is the refinement whatever it holds (an answer that is not offset tokens is a failed refinement,
 * not a first answer), and that earlier answer is the data file's, not the model's: a trainer's
 * predict run writes only the last turn. A refine sample's answer is the data's by definition (the
 * simulated previous prediction), and a `getok export --followup` row says its answer is the model's.
 */
function turnsOf(row: PredictionRow, task: EvalTask): Pick<EvalSample, 'answer' | 'refinement' | 'answer_from'> | string {
  const given = task === 'refine' ? 'data' : 'model'
  if (row.refinement !== undefined) return {answer: row.text, refinement: row.refinement, answer_from: given}
  const refining = row.label !== undefined ? tokenSpan(row.label).startsWith('<offset>') : task === 'refine'
  if (!refining) return {answer: row.text, answer_from: given}
  if (row.previous === undefined) return 'a refinement without the answer it refines (no earlier assistant turn, no tokens in the prompt)'
  return {answer: row.previous, refinement: row.text, answer_from: task !== 'refine' && row.answerFrom === 'model' ? 'model' : 'data'}
}

/** The reference answer moves box corners only (the box rule's second turn of seg and multi), after an answer. */
function isBoxTurn(row: PredictionRow, n: number): boolean {
  if (row.label === undefined || row.previous === undefined || !tokenSpan(row.label).startsWith('<offset>')) return false
  const r = parseRefinement(row.label, n)
  return r.ok && r.value.every((o) => o.offsets.length === 0 && o.boxMoves !== undefined)
}

function checkIds(imageId: number, annIds: readonly number[], data: CocoDataset): string | null {
  if (!data.images.has(imageId)) return `unknown image_id ${imageId}`
  const anns = data.annotationsByImage.get(imageId) ?? []
  const missing = annIds.filter((id) => !anns.some((a) => a.id === id))
  return missing.length > 0 ? `annotation ${missing.join(', ')} not found in image ${imageId}` : null
}

/** The COCO image whose file_name the path ends with (paths may carry a prefix such as --image-root). */
export function imageByPath(data: CocoDataset, imagePath: string): CocoImage | undefined {
  const byName = fileNameIndex(data)
  const parts = imagePath.replace(/\\/g, '/').split('/')
  for (let k = 0; k < parts.length; k++) {
    const hit = byName.get(parts.slice(k).join('/'))
    if (hit) return hit
  }
  return undefined
}

const indexes = new WeakMap<CocoDataset, Map<string, CocoImage>>()
function fileNameIndex(data: CocoDataset): Map<string, CocoImage> {
  let index = indexes.get(data)
  if (!index) {
    index = new Map([...data.images.values()].map((im) => [im.fileName.replace(/\\/g, '/'), im]))
    indexes.set(data, index)
  }
  return index
}

function objectsOfLabel(task: EvalTask, row: PredictionRow, image: CocoImage, ctx: ResolveContext): number[] | string {
  const anns = ctx.data.annotationsByImage.get(image.id) ?? []
  if (task === 'refine') return refinedObject(row, image, anns, ctx)
  // after the box rule's box-offsets turn the answer that names the object is the one before it
  const parsed = parseAnswer(isBoxTurn(row, ctx.n) ? row.previous! : row.label!, ctx.n)
  if (!parsed.ok) return `the reference answer does not parse (${parsed.detail})`
  const {objects} = parsed.value
  if (task === 'box') {
    if (objects.length !== 1 || !objects[0].box) return 'a box reference answer without one <box>'
    const box = objects[0].box
    const frame = {n: ctx.n, width: image.width, height: image.height}
    return unique(
      anns.filter((a) => sameCells(boxXywhToCorners(a.bbox, frame), box)),
      'box',
    )
  }
  const curated = ctx.curated?.get(image.id)
  if (!ctx.curated) return `a ${task} reference answer names its object only through the curated records: pass --curated`
  const ids: number[] = []
  for (const o of objects) {
    const matches = (curated ?? []).filter((c) =>
      task === 'point'
        ? (c.point !== undefined || c.points.length > 0) && samePoint(pointingAnswer(c, ctx.n, 'plain'), o.cells, ctx.n)
        : sameSet(cellsOf(c, ctx.n), o.cells, ctx.n) && (!o.box || sameCells(boxOf(c, ctx.n), o.box)),
    )
    const id = unique(
      matches.map((c) => ({id: c.annId})),
      task,
    )
    if (typeof id === 'string') return id
    ids.push(...id)
  }
  return ids
}

function unique(matches: readonly {id: number}[], what: string): number[] | string {
  if (matches.length === 1) return [matches[0].id]
  return matches.length === 0
    ? `no object of the image has this ${what} reference answer`
    : `${matches.length} objects share this ${what} reference answer`
}

function cellsOf(c: CuratedObject, n: number): Cell[] {
  const parsed = parseAnswer(c.seg, n)
  return parsed.ok ? parsed.value.objects[0].cells : c.points
}

/** A curated record's box corner cells (box-rule answers name their object by box and points: zero points is common). */
function boxOf(c: CuratedObject, n: number): Cell[] {
  const parsed = parseAnswer(c.box, n)
  return parsed.ok && parsed.value.objects[0].box ? parsed.value.objects[0].box : []
}

/** A pointing answer (either spelling) names the same cell as the reference's one cell. */
function samePoint(answer: string, cells: readonly Cell[], n: number): boolean {
  const parsed = parseAnswer(answer, n)
  return parsed.ok && cells.length === 1 && sameCells(parsed.value.objects[0].cells, cells)
}

function sameCells(a: readonly Cell[], b: readonly Cell[]): boolean {
  return a.length === b.length && a.every((c, k) => c[0] === b[k][0] && c[1] === b[k][1])
}

function sameSet(a: readonly Cell[], b: readonly Cell[], n: number): boolean {
  return sameCells(sortCellsRaster(a, n), sortCellsRaster(b, n))
}

/** A refine row's object: the one for which every offset token of the reference answer is right. */
function refinedObject(row: PredictionRow, image: CocoImage, anns: readonly CocoAnnotation[], ctx: ResolveContext): number[] | string {
  const n = ctx.n
  if (row.previous === undefined) return 'a refinement without the answer it refines'
  const answer = parseAnswer(row.previous, n)
  const target = parseRefinement(row.label!, n)
  if (!answer.ok || !target.ok) return 'the reference refinement does not parse'
  const cells = answer.value.objects.flatMap((o) => o.cells)
  const offsets = target.value.flatMap((r) => r.offsets)
  if (cells.length !== offsets.length) return 'the reference refinement does not pair with the answer it refines'
  const frame = {n, width: image.width, height: image.height}
  const fits = anns.filter((a) => {
    let mask
    try {
      mask = annotationToMask(a, image)
    } catch {
      return false
    }
    return cells.every((c, k) => offsetIsRight(c, offsets[k], mask, frame, ctx.flipV))
  })
  return unique(
    fits.map((a) => ({id: a.id})),
    'refinement',
  )
}
