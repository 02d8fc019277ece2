/**
 * `getok inspect` end to end. Records mode: read and select records, check
 * that every image is there, encode each image once, draw each record, write
 * one PNG per record or contact sheets. Answer mode: one photo, one token
 * string (and its offset round), one PNG. Eval mode (inspect-eval.ts): lines
 * of an eval.jsonl, drawn as eval decoded and scored them.
 */
import {existsSync} from 'node:fs'
import * as path from 'node:path'
import type {GridFrame} from '../../core/grid/grid.js'
import type {Mask} from '../../core/masks/mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import {GetokError} from '../../core/errors.js'
import {type CocoAnnotation, type CocoDataset, type CocoImage, annotationToMask, readCoco} from '../../adapters/coco.js'
import {loadImage, resizeForSam} from '../../adapters/images.js'
import type {SamEngine} from '../../sam/engine.js'
import type {Progress} from '../shared/progress.js'
import {encodeImageFile} from '../shared/encode-image.js'
import {withOutFolder} from '../shared/out-dir.js'
import {type InspectRecord, type RecordFilter, readRecords, selectRecords} from './inspect-records.js'
import {
  type DrawContext,
  type PreparedPhoto,
  answerCaption,
  recordCaption,
  recordToAnswer,
  renderAnswer,
  tokensToAnswer,
} from './render-record.js'
import {resolveImagePath} from '../shared/select-images.js'
import {PictureWriter, type SheetLayout, writePicture} from './write-pictures.js'
import {type EvalPictureSummary, inspectEval} from './inspect-eval.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import {type Warn, Warnings, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface AnswerInput {
  image: string
  tokens: string
  offsets?: string
  grid: number
  /** ground truth for the caption's IoU; needs `annotations` */
  annId?: number
}

export interface InspectInput {
  /** records mode: a shard, a folder of shards or a manifest */
  source?: string
  /** answer mode */
  answer?: AnswerInput
  /** eval mode: an eval.jsonl or its folder */
  eval?: string
  /** eval mode: the decode rule, over the run's; answer mode: the rule (default: the answer's shape's) */
  rule?: DecodeRule
  annotations?: string
  images?: string
  out: string
  filter: RecordFilter
  /** contact sheets instead of one PNG per record */
  sheet?: SheetLayout
  /** long side of each picture, pixels */
  size: number
  /** overrides the records' policy; default for answers: single */
  policy?: MaskPolicy
  flipV?: boolean
  palette?: boolean
  /** one tick per picture drawn (records and eval mode) */
  progress?: Progress
  /** a shard not the bytes its manifest lists (records mode): said as found, kept in the result */
  warn?: Warn
  engine: () => Promise<SamEngine>
}

export interface PictureSummary {
  file: string
  image: string
  image_id?: number
  ann_id?: number
  tokens: number
  /** IoU of the decoded mask with the ground truth, when there is one */
  iou?: number
  /** the record's own iou field */
  record_iou?: number
}

export interface InspectResult {
  files: string[]
  pictures: PictureSummary[] | (EvalPictureSummary & {file: string})[]
  /** absent where nothing */
  warnings?: string[]
}

export async function runInspect(input: InspectInput): Promise<InspectResult> {
  if ([input.answer, input.source, input.eval].filter((v) => v !== undefined).length > 1)
    throw new GetokError('give one of: records to inspect, --image with --tokens, or --eval', {file: input.source ?? input.eval})
  await refuseFoldersBeingWritten([{path: input.source}, {path: input.eval, flag: 'eval'}])
  // held from before SAM loads and the pictures are drawn: a second inspect into --out stops at once
  return withOutFolder(input.out, 'inspect', () => inspectHeld(input))
}

async function inspectHeld(input: InspectInput): Promise<InspectResult> {
  if (input.eval) return inspectEval({...input, eval: input.eval})
  if (input.answer) return inspectAnswer(input, input.answer)
  if (!input.source) throw new GetokError('nothing to inspect: give a shard, folder or manifest, or --image with --tokens')
  // a record names its rule, and its iou holds under that rule only
  if (input.rule)
    throw new GetokError('records are decoded under the rule each names', {flag: 'decode'}, '--decode with --eval or --tokens')
  if (!input.images) throw new GetokError('records name their images relative to an image root: give --images', {file: input.source})
  return inspectRecords(input, input.source, input.images)
}

// ---- records ---------------------------------------------------------------

interface Job {
  record: InspectRecord
  imagePath: string
  index: number
}

async function inspectRecords(input: InspectInput, source: string, imagesRoot: string): Promise<InspectResult> {
  const warnings = new Warnings(input.warn)
  const records = selectRecords(await readRecords(source, warnings.add), input.filter, source)
  const coco = input.annotations ? await readCoco(input.annotations) : undefined
  const annIndex = coco ? indexAnnotations(coco) : undefined
  const jobs = records.map((record, index) => ({record, index, imagePath: recordImagePath(record, imagesRoot)}))
  for (const job of jobs) if (annIndex) groundTruthFor(job.record, annIndex, input.annotations!) // fail before loading SAM

  const engine = await input.engine()
  const ctx: DrawContext = {engine, render: {longSide: input.sheet?.thumb ?? input.size, palette: input.palette}}
  const names = jobs.map((j) => recordFileName({image: j.record.image, image_id: j.record.imageId, ann_id: j.record.annId}, j.index))
  const writer = await PictureWriter.open<Omit<PictureSummary, 'file'>>(input, names)
  for (const group of groupByImage(jobs)) {
    const prepared = await prepareRecordPhoto(engine, group[0])
    for (const job of group) {
      const {record} = job
      const gt = annIndex && groundTruthFor(record, annIndex, input.annotations!)
      const policy = input.policy ?? record.policy ?? 'single'
      const flipV = input.flipV ?? record.flipV ?? false
      const grid: GridFrame = {n: record.grid, width: prepared.photo.width, height: prepared.photo.height}
      const result = await renderAnswer(prepared, recordToAnswer(record), {grid, policy, flipV, gt}, ctx, (r) =>
        recordCaption(record, r, engine.identity, policy),
      )
      await writer.add(job.index, result.picture, {
        image: record.image,
        image_id: record.imageId,
        ann_id: record.annId,
        tokens: result.tokens,
        iou: result.iou,
        record_iou: record.iou,
      })
    }
  }
  return {...(await writer.finish()), ...warnings.field()}
}

function recordImagePath(record: InspectRecord, root: string): string {
  const image: CocoImage = {id: record.imageId ?? -1, fileName: record.image, width: record.width ?? 0, height: record.height ?? 0}
  const file = resolveImagePath(root, image, record.file)
  if (!existsSync(file)) {
    throw new GetokError(
      "the record's image is missing",
      {file: record.file, record: recordLabel(record), field: 'image'},
      `a file at ${file}`,
      'none',
    )
  }
  return file
}

/** Photo and SAM embedding for a record's image; the size must be the record's (masks would not line up). */
async function prepareRecordPhoto(engine: SamEngine, job: Job): Promise<PreparedPhoto> {
  const photo = await loadImage(job.imagePath)
  const {record} = job
  const image: CocoImage = {
    id: record.imageId ?? -1,
    fileName: record.image,
    width: record.width ?? photo.width,
    height: record.height ?? photo.height,
  }
  try {
    return {photo, embedding: await encodeImageFile(engine, image, job.imagePath)}
  } catch (error) {
    if (error instanceof GetokError) throw new GetokError(error.message, {record: `${record.file} ${recordLabel(record)}`})
    throw error
  }
}

function groupByImage(jobs: readonly Job[]): Job[][] {
  const groups = new Map<string, Job[]>()
  for (const job of jobs) groups.set(job.imagePath, [...(groups.get(job.imagePath) ?? []), job])
  return [...groups.values()]
}

type AnnIndex = Map<number, {ann: CocoAnnotation; image: CocoImage}>

function indexAnnotations(coco: CocoDataset): AnnIndex {
  const index: AnnIndex = new Map()
  for (const [imageId, anns] of coco.annotationsByImage) for (const ann of anns) index.set(ann.id, {ann, image: coco.images.get(imageId)!})
  return index
}

function groundTruthFor(record: InspectRecord, index: AnnIndex, annotations: string): Mask {
  const place = {file: annotations, record: `${record.file} ${recordLabel(record)}`}
  const found = record.annId !== undefined ? index.get(record.annId) : undefined
  if (!found)
    throw new GetokError(
      "the record's annotation is not in the annotations file",
      place,
      `ann id ${record.annId ?? '(none in the record)'}`,
    )
  if (record.width !== undefined && (found.image.width !== record.width || found.image.height !== record.height)) {
    throw new GetokError(
      'image size in the annotations file disagrees with the record',
      place,
      `${record.width}x${record.height}`,
      `${found.image.width}x${found.image.height}`,
    )
  }
  return annotationToMask(found.ann, found.image)
}

/** The photo is the annotations' image: its file name (any folder), or a name that is its id (`25560.jpg`, `000000025560.png`). */
function isImageFile(file: string, image: CocoImage): boolean {
  if (path.basename(file) === path.basename(image.fileName)) return true
  const stem = path.parse(file).name
  return /^\d+$/.test(stem) && Number(stem) === image.id
}

function recordLabel(record: InspectRecord): string {
  return `line ${record.line}` + (record.annId !== undefined ? ` (ann ${record.annId}, image ${record.imageId})` : '')
}

function recordFileName(s: Pick<PictureSummary, 'image' | 'image_id' | 'ann_id'>, k: number): string {
  const stem = s.image_id !== undefined && s.ann_id !== undefined ? `${s.image_id}-${s.ann_id}` : `${path.parse(s.image).name}-${k + 1}`
  return `${stem}.png`
}

// ---- answers ---------------------------------------------------------------

async function inspectAnswer(input: InspectInput, answerInput: AnswerInput): Promise<InspectResult> {
  const answer = tokensToAnswer(answerInput.tokens, answerInput.offsets, answerInput.grid, input.rule)
  const photo = await loadImage(answerInput.image)
  const gt = answerInput.annId !== undefined ? await answerGroundTruth(input.annotations, answerInput.annId, photo) : undefined
  const engine = await input.engine()
  const {rgb, frame} = await resizeForSam(photo)
  const prepared: PreparedPhoto = {photo, embedding: await engine.encode(rgb, frame)}
  const grid: GridFrame = {n: answerInput.grid, width: photo.width, height: photo.height}
  const policy = input.policy ?? 'single'
  const flipV = input.flipV ?? false
  const name = path.basename(answerInput.image)
  const ctx: DrawContext = {engine, render: {longSide: input.size, palette: input.palette}}
  const result = await renderAnswer(prepared, answer, {grid, policy, flipV, gt}, ctx, (r) =>
    answerCaption(name, answerInput.annId, r, grid.n, policy, engine.identity, flipV, answer.rule),
  )
  const summary = {image: answerInput.image, ann_id: answerInput.annId, tokens: result.tokens, iou: result.iou}
  const stem = path.parse(name).name + (answerInput.annId !== undefined ? `-${answerInput.annId}` : '')
  return writePicture(input, `${stem}-answer.png`, result.picture, summary)
}

async function answerGroundTruth(
  annotations: string | undefined,
  annId: number,
  photo: {file: string; width: number; height: number},
): Promise<Mask> {
  if (!annotations) throw new GetokError('--ann-id needs --annotations (the file holding that annotation)', {field: '--ann-id'})
  const found = indexAnnotations(await readCoco(annotations)).get(annId)
  if (!found) throw new GetokError(`no annotation with id ${annId}`, {file: annotations})
  // a size check alone passes another photo of the same size, drawn and scored against the wrong one
  if (!isImageFile(photo.file, found.image)) {
    throw new GetokError(
      `annotation ${annId} belongs to image ${found.image.id} (${found.image.fileName}), not to ${path.basename(photo.file)}`,
      {file: photo.file, flag: 'ann-id'},
      `an annotation of ${path.basename(photo.file)}, or --image ${found.image.fileName}`,
    )
  }
  if (found.image.width !== photo.width || found.image.height !== photo.height) {
    throw new GetokError(
      `annotation ${annId} belongs to image ${found.image.id} of another size`,
      {file: photo.file},
      `${found.image.width}x${found.image.height}`,
      `${photo.width}x${photo.height}`,
    )
  }
  return annotationToMask(found.ann, found.image)
}
