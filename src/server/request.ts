/**
 * A POST /score body (already JSON-parsed) → typed samples (protocol.ts), or an HttpError naming the
 * field: `[3].ann_ids[1]: expected an integer, got "7"`. Checks types and shape only; whether an id
 * exists, a path is inside --images or a segmentation is valid is the service's to say.
 *
 * Unknown keys are refused rather than ignored: a misspelt "refinment" would otherwise score the
 * sample silently without its refinement turn.
 */
import {EVAL_TASKS, type EvalTask} from '../core/eval/plan.js'
import {MAX_IMAGE_PIXELS} from '../core/coco/records.js'
import type {BoxXywh} from '../core/masks/box.js'
import {type GtObject, HttpError, type SampleRequest} from './protocol.js'

/** What one request may hold (--max-samples, --max-objects, --max-request-objects). */
export interface RequestLimits {
  samples: number
  /** objects of one sample: its ann_ids or gt entries */
  objects: number
  /** objects of all the request's samples together: each is a mask to make and hold */
  requestObjects: number
}

/** --max-objects' and --max-request-objects' defaults: a sample's 64 objects are 20 MB of 640x480 masks to union */
export const OBJECT_LIMITS = {objects: 64, requestObjects: 8192}

export interface ScoreRequest {
  /** the body was a list (answer a list), or one sample (answer one object) */
  list: boolean
  samples: SampleRequest[]
}

const COCO_KEYS = new Set(['image_id', 'ann_id', 'ann_ids', 'answer', 'refinement', 'task'])
const GT_KEYS = new Set(['image', 'gt', 'answer', 'refinement', 'task'])
const GT_OBJECT_KEYS = new Set(['segmentation', 'width', 'height', 'bbox'])

export function parseScoreRequest(body: unknown, limits: RequestLimits): ScoreRequest {
  const list = Array.isArray(body)
  if (list && body.length === 0) throw bad('', 'an empty list', 'at least one sample')
  if (list && body.length > limits.samples)
    throw new HttpError(413, `${body.length} samples in one request: at most ${limits.samples} (--max-samples)`)
  const samples = list ? body.map((s, k) => parseSample(s, `[${k}]`, limits.objects)) : [parseSample(body, '', limits.objects)]
  const objects = samples.reduce((sum, s) => sum + (s.kind === 'coco' ? s.ann_ids.length : s.gt.length), 0)
  if (objects > limits.requestObjects)
    throw new HttpError(413, `${objects} objects (ann_ids, gt) in one request: at most ${limits.requestObjects} (--max-request-objects)`)
  return {list, samples}
}

function parseSample(raw: unknown, at: string, maxObjects: number): SampleRequest {
  if (!isPlainObject(raw)) throw new HttpError(400, `${at || 'sample'}: expected an object, got ${describe(raw)}`)
  const kind = 'image_id' in raw ? 'coco' : 'image' in raw || 'gt' in raw ? 'gt' : null
  if (!kind)
    throw new HttpError(
      400,
      `${at || 'sample'}: needs "image_id" (a COCO image) or "image" and "gt" (ground truth sent along)${strayKey(raw, at)}`,
    )
  const keys = kind === 'coco' ? COCO_KEYS : GT_KEYS
  const unknown = Object.keys(raw).find((k) => !keys.has(k))
  if (unknown !== undefined) {
    const mixed = kind === 'coco' ? GT_KEYS.has(unknown) : COCO_KEYS.has(unknown)
    const why = mixed
      ? `not with ${kind === 'coco' ? '"image_id"' : '"image"/"gt"'}`
      : `unknown key (expected some of ${[...keys].join(', ')})`
    throw new HttpError(400, `${field(at, unknown)}: ${why}`)
  }
  const common = {
    at,
    answer: text(raw.answer, field(at, 'answer')),
    ...(raw.refinement !== undefined ? {refinement: text(raw.refinement, field(at, 'refinement'))} : {}),
    ...(raw.task !== undefined ? {task: task(raw.task, field(at, 'task'))} : {}),
  }
  if (kind === 'gt') {
    if (typeof raw.image !== 'string' || raw.image === '') throw bad(field(at, 'image'), 'bad image', 'a path under --images', raw.image)
    return {kind, ...common, image: raw.image, gt: gtObjects(raw.gt, field(at, 'gt'), maxObjects)}
  }
  return {kind, ...common, image_id: integer(raw.image_id, field(at, 'image_id')), ann_ids: annIds(raw, at, maxObjects)}
}

/** Names the first key no sample has: a misspelt "imageid", or a wrapper such as {"samples": [...]}. */
function strayKey(raw: Record<string, unknown>, at: string): string {
  const stray = Object.keys(raw).find((k) => !COCO_KEYS.has(k) && !GT_KEYS.has(k))
  if (stray === undefined) return ''
  if (at === '' && Array.isArray(raw[stray])) return `; "${stray}" is not a key: send a list of samples as the body itself, a JSON array`
  return `; "${stray}" is not a key`
}

function annIds(raw: Record<string, unknown>, at: string, maxObjects: number): number[] {
  if ('ann_id' in raw && 'ann_ids' in raw) throw new HttpError(400, `${field(at, 'ann_ids')}: give "ann_id" or "ann_ids", not both`)
  if ('ann_id' in raw) return [integer(raw.ann_id, field(at, 'ann_id'))]
  if (!('ann_ids' in raw)) throw new HttpError(400, `${field(at, 'ann_id')}: required with "image_id" (or "ann_ids")`)
  const list = raw.ann_ids
  const where = field(at, 'ann_ids')
  if (!Array.isArray(list) || list.length === 0) throw bad(where, 'bad annotation ids', 'a non-empty list of integers', list)
  checkObjects(list, where, maxObjects)
  return list.map((v, k) => integer(v, `${where}[${k}]`))
}

function gtObjects(raw: unknown, where: string, maxObjects: number): GtObject[] {
  if (raw === undefined) throw new HttpError(400, `${where}: required with "image"`)
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw bad(where, 'bad ground truth', 'an object or a non-empty list of objects', raw)
    checkObjects(raw, where, maxObjects)
    const objects = raw.map((o, k) => gtObject(o, `${where}[${k}]`))
    const [w, h] = [objects[0].width, objects[0].height]
    const k = objects.findIndex((o) => o.width !== w || o.height !== h)
    if (k > 0)
      throw new HttpError(
        400,
        `${where}[${k}]: objects of one image differ in size: expected ${w}x${h}, got ${objects[k].width}x${objects[k].height}`,
      )
    return objects
  }
  return [gtObject(raw, where)]
}

/** Each object is a full-image mask to make and union: checked before any is looked at. */
function checkObjects(list: unknown[], where: string, maxObjects: number): void {
  if (list.length > maxObjects)
    throw new HttpError(413, `${where}: ${list.length} objects in one sample: at most ${maxObjects} (--max-objects)`)
}

function gtObject(raw: unknown, where: string): GtObject {
  if (!isPlainObject(raw)) throw bad(where, 'bad ground truth', '{"segmentation", "width", "height"}', raw)
  const unknown = Object.keys(raw).find((k) => !GT_OBJECT_KEYS.has(k))
  if (unknown !== undefined)
    throw new HttpError(400, `${where}.${unknown}: unknown key (expected some of segmentation, width, height, bbox)`)
  if (raw.segmentation === undefined) throw new HttpError(400, `${where}.segmentation: required`)
  const width = positive(raw.width, `${where}.width`)
  const height = positive(raw.height, `${where}.height`)
  if (width * height > MAX_IMAGE_PIXELS)
    throw new HttpError(400, `${where}.width/height: image too large: expected at most ${MAX_IMAGE_PIXELS} pixels, got ${width}x${height}`)
  const out: GtObject = {segmentation: raw.segmentation, width, height}
  if (raw.bbox !== undefined) out.bbox = box(raw.bbox, `${where}.bbox`)
  return out
}

function box(raw: unknown, where: string): BoxXywh {
  const ok = Array.isArray(raw) && raw.length === 4 && raw.every((v) => typeof v === 'number' && Number.isFinite(v))
  if (!ok || raw[2] < 0 || raw[3] < 0) throw bad(where, 'bad box', '[x, y, w, h] in pixels, w and h ≥ 0', raw)
  return raw as BoxXywh
}

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string') throw bad(where, raw === undefined ? 'required' : 'not text', 'a string', raw)
  return raw
}

function task(raw: unknown, where: string): EvalTask {
  if (!(EVAL_TASKS as readonly unknown[]).includes(raw)) throw bad(where, 'unknown task', `one of ${EVAL_TASKS.join(', ')}`, raw)
  return raw as EvalTask
}

function integer(raw: unknown, where: string): number {
  if (!Number.isSafeInteger(raw)) throw bad(where, raw === undefined ? 'required' : 'not an integer', 'an integer', raw)
  return raw as number
}

function positive(raw: unknown, where: string): number {
  if (!Number.isSafeInteger(raw) || (raw as number) <= 0) throw bad(where, 'bad size', 'a positive integer', raw)
  return raw as number
}

const field = (at: string, key: string) => (at ? `${at}.${key}` : key)

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const NOTHING_SHOWN = Symbol('nothing shown')

function bad(where: string, what: string, expected: string, got: unknown = NOTHING_SHOWN): HttpError {
  const head = where ? `${where}: ${what}` : what
  return new HttpError(400, `${head}: expected ${expected}${got === NOTHING_SHOWN ? '' : `, got ${describe(got)}`}`)
}

/**
 * A client's value, short and safe to print: never recursive (a hostile body may nest thousands of
 * levels deep, where JSON.stringify or String() would overflow the stack).
 */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)
  if (Array.isArray(value)) return `a list of ${value.length}`
  return 'an object'
}
