/**
 * What the parent and its worker processes say to each other over the IPC channel (structured
 * clone: `serialization: 'advanced'`, so NaN, Maps and typed arrays arrive as they were sent).
 *
 *   parent → worker   init {job, unit}          once: which job module to load, and with what
 *                     unit {seq, item}          one image and its annotations, segmentations read
 *   worker → parent   ready {info}              the job is loaded (curate: SAM's identity)
 *                     result {seq, result, counters}
 *                     failed {seq?, error}      seq absent: the job could not be loaded
 *
 * A GetokError crosses as its parts and is rebuilt as a GetokError, so an image-level problem
 * under --strict stops the run with the same text as in one process.
 */
import {GetokError, type ErrorPlace} from '../../core/errors.js'
import type {CocoAnnotation, CocoImage} from '../../core/coco/records.js'
import type {SamOptions} from '../../sam/engine.js'
import type {ImageUnit} from '../shared/image-run.js'
import type {UnitResult} from '../shared/sharded-run.js'

/** A module exporting `createJob(init)` (worker side) and the data it is called with. */
export interface WorkerJob {
  /** file URL of the job module */
  module: string
  init: unknown
}

/** SAM's settings as a worker process is sent them (`threads`: this worker's own). */
export type WorkerSam = Pick<SamOptions, 'files' | 'device' | 'threads' | 'quantizeDecoder'>

/** What processUnit (shared/image-run.ts) needs besides the command. */
export interface UnitSettings {
  annotations: string
  strict: boolean
  includeCrowd: boolean
}

/** An annotation as plain data; `segmentationError`: reading it back failed, and prepareObjects must see that. */
export interface PlainAnnotation extends CocoAnnotation {
  segmentationError?: string
}

export interface PlainItem {
  image: CocoImage
  anns: PlainAnnotation[]
  /** what else a command's unit carries (eval: the image's samples) */
  extra?: unknown
}

export type ToWorker = {type: 'init'; job: WorkerJob; unit: UnitSettings} | {type: 'unit'; seq: number; item: PlainItem}

export type FromWorker =
  | {type: 'ready'; info: unknown}
  | {type: 'result'; seq: number; result: UnitResult<object>; counters: Record<string, number>}
  | {type: 'failed'; seq?: number; error: WireError}

export type WireError =
  {getok: true; what: string; place: ErrorPlace; expected?: string; got?: string} | {getok: false; message: string; stack?: string}

/** What a job module's createJob returns, in the worker. */
export interface LoadedJob {
  info: unknown
  processImage: (unit: ImageUnit) => Promise<UnitResult<object>>
  /** a whole unit instead of processUnit + processImage (eval, whose units are samples, not objects) */
  processUnit?: (item: {image: CocoImage; anns: CocoAnnotation[]}, extra: unknown) => Promise<UnitResult<object>>
  /** running totals (decoder calls, …), sent with every result */
  counters(): Record<string, number>
}

export function toWire(error: unknown): WireError {
  if (error instanceof GetokError) return {getok: true, what: error.what, place: error.place, expected: error.expected, got: error.got}
  return error instanceof Error ? {getok: false, message: error.message, stack: error.stack} : {getok: false, message: String(error)}
}

/** The error in the parent: a GetokError as it was; anything else its message after `context`, the worker's stack kept for GETOK_DEBUG. */
export function fromWire(error: WireError, context: string): Error {
  if (error.getok) return new GetokError(error.what, error.place, error.expected, error.got)
  const local = new Error(`${context}: ${error.message}`)
  if (error.stack) local.stack = `${local.stack}\nin the worker process: ${error.stack}`
  return local
}

/** Read each segmentation here (the index reads it from the file), so the worker gets plain data. */
export function plainItem(image: CocoImage, anns: readonly CocoAnnotation[], extra?: unknown): PlainItem {
  return {
    extra,
    image: {id: image.id, fileName: image.fileName, width: image.width, height: image.height},
    anns: anns.map((a) => {
      const head = {id: a.id, imageId: a.imageId, categoryId: a.categoryId, iscrowd: a.iscrowd, area: a.area, bbox: a.bbox}
      try {
        return {...head, segmentation: a.segmentation}
      } catch (error) {
        return {...head, segmentation: undefined, segmentationError: (error as Error).message}
      }
    }),
  }
}

/** The worker's side of plainItem: a segmentation that failed to read fails again where it is used. */
export function fromPlainItem(item: PlainItem): {image: CocoImage; anns: CocoAnnotation[]} {
  const anns = item.anns.map(({segmentationError, ...ann}) => {
    if (segmentationError === undefined) return ann
    return Object.defineProperty(ann, 'segmentation', {
      get() {
        throw new Error(segmentationError)
      },
    })
  })
  return {image: item.image, anns}
}
