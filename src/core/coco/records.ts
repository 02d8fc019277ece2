/**
 * COCO records, pure: one parsed JSON value → a typed image, category or
 * annotation, and an annotation's segmentation → one mask. No file access: the
 * reader (adapters/coco.ts) hands each element over as it streams the file.
 *
 * Segmentations come in three COCO forms, all reduced here to column-major RLE
 * parts that are OR-ed (as pycocotools' annToRLE does):
 *   polygons           [[x1, y1, x2, y2, ...], ...]        rasterised by polygon.ts
 *   uncompressed RLE   {size: [h, w], counts: [n0, n1, ...]}
 *   compressed RLE     {size: [h, w], counts: "PP\\9..."}   decoded by rle.ts
 * An RLE's size must equal its image's [height, width].
 */
import {GetokError, showValue} from '../errors.js'
import type {Mask} from '../masks/mask.js'
import {polygonsToRle} from '../masks/polygon.js'
import {type Rle, checkRleCounts, rleArea, rleFromString, rleToBoxXywh, rleToMask, rleUnion} from '../masks/rle.js'
import {jsonErrorOffset} from '../../parsers/json-syntax.js'

export interface CocoImage {
  id: number
  /** As written in the file, relative to the image root; may contain subfolders. */
  fileName: string
  width: number
  height: number
}

export interface CocoAnnotation {
  id: number
  /** NaN only in a skipped record whose image_id was not an integer. */
  imageId: number
  /** NaN only in a skipped record whose category_id was not an integer. */
  categoryId: number
  iscrowd: boolean
  /**
   * COCO's `area` as written: for polygons the polygon's shoelace area, not its
   * pixel count; for crowd RLEs larger than the pixel count. When the file has
   * none, the mask's pixel count (NaN in a record skipped before that).
   */
  area: number
  /** COCO's [x, y, w, h] in pixels; when the file has none, the mask's tight box (NaNs in a record skipped before that). */
  bbox: [number, number, number, number]
  /** Raw COCO segmentation; see annotationToMask. */
  segmentation: unknown
}

export interface CocoSkip {
  ann: CocoAnnotation
  reason: string
}

export type Json = Record<string, unknown>

/** Largest image a record may declare: sharp's input limit in adapters/images; masks are full size, one byte a pixel. */
export const MAX_IMAGE_PIXELS = 20000 * 20000

/** JSON.parse, with the failure's line and column in the error. A leading BOM is ignored. */
export function parseJsonFile(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  try {
    return JSON.parse(body)
  } catch (error) {
    const offset = jsonErrorOffset(body)
    const before = body.slice(0, offset)
    const line = before.split('\n').length
    const column = offset - before.lastIndexOf('\n')
    const near = showValue(body.slice(Math.max(0, offset - 20), offset + 20))
    const what = `invalid JSON at line ${line}, column ${column} (char ${offset}), near ${near}: ${(error as Error).message}`
    throw new GetokError(what, {file})
  }
}

/** One entry of `images`. Throws GetokError naming the record and field. */
export function parseImageRecord(raw: unknown, file: string, index: number): CocoImage {
  if (!isObject(raw)) throw new GetokError('image record is not an object', {file, record: `images[${index}]`}, 'an object', showValue(raw))
  const place = (field: string) => ({file, record: Number.isInteger(raw.id) ? `image ${raw.id}` : `images[${index}]`, field})
  if (!Number.isInteger(raw.id)) throw new GetokError('bad image id', place('id'), 'an integer', showValue(raw.id))
  if (typeof raw.file_name !== 'string' || raw.file_name === '') {
    throw new GetokError('bad file name', place('file_name'), 'a non-empty string', showValue(raw.file_name))
  }
  for (const field of ['width', 'height']) {
    const v = raw[field]
    if (!Number.isInteger(v) || (v as number) <= 0)
      throw new GetokError(`bad image ${field}`, place(field), 'a positive integer', showValue(v))
  }
  if ((raw.width as number) * (raw.height as number) > MAX_IMAGE_PIXELS) {
    throw new GetokError(
      'image too large',
      place('width/height'),
      `at most ${MAX_IMAGE_PIXELS} pixels (what adapters/images decodes)`,
      `${raw.width}x${raw.height}`,
    )
  }
  return {id: raw.id as number, fileName: raw.file_name, width: raw.width as number, height: raw.height as number}
}

/** One entry of `categories`. Throws GetokError naming the record and field. */
export function parseCategoryRecord(raw: unknown, file: string, index: number): {id: number; name: string} {
  if (!isObject(raw))
    throw new GetokError('category record is not an object', {file, record: `categories[${index}]`}, 'an object', showValue(raw))
  const record = Number.isInteger(raw.id) ? `category ${raw.id}` : `categories[${index}]`
  if (!Number.isInteger(raw.id)) throw new GetokError('bad category id', {file, record, field: 'id'}, 'an integer', showValue(raw.id))
  if (typeof raw.name !== 'string')
    throw new GetokError('bad category name', {file, record, field: 'name'}, 'a string', showValue(raw.name))
  return {id: raw.id as number, name: raw.name}
}

/**
 * One entry of `annotations`, checked on its own (no cross-reference). Throws
 * GetokError only when the record is not an object or has no integer id;
 * any other problem comes back as `reason`, with the fields it could read.
 */
export function parseAnnotationRecord(raw: unknown, file: string, index: number): {ann: CocoAnnotation; reason: string | null} {
  const record = `annotations[${index}]`
  if (!isObject(raw)) throw new GetokError('annotation record is not an object', {file, record}, 'an object', showValue(raw))
  if (!Number.isInteger(raw.id)) throw new GetokError('bad annotation id', {file, record, field: 'id'}, 'an integer', showValue(raw.id))
  const ann: CocoAnnotation = {
    id: raw.id as number,
    imageId: Number.isInteger(raw.image_id) ? (raw.image_id as number) : NaN,
    categoryId: Number.isInteger(raw.category_id) ? (raw.category_id as number) : NaN,
    iscrowd: raw.iscrowd === 1 || raw.iscrowd === true,
    area: typeof raw.area === 'number' && Number.isFinite(raw.area) ? raw.area : NaN,
    bbox: isBoxXywh(raw.bbox) ? raw.bbox : [NaN, NaN, NaN, NaN],
    segmentation: raw.segmentation,
  }
  return {ann, reason: annotationFieldIssue(raw)}
}

function annotationFieldIssue(raw: Json): string | null {
  if (!Number.isInteger(raw.image_id)) return `image_id is not an integer: got ${showValue(raw.image_id)}`
  if (!Number.isInteger(raw.category_id)) return `category_id is not an integer: got ${showValue(raw.category_id)}`
  if (![0, 1, true, false, null, undefined].includes(raw.iscrowd as never)) return `iscrowd is not 0 or 1: got ${showValue(raw.iscrowd)}`
  if (raw.area != null && !(typeof raw.area === 'number' && Number.isFinite(raw.area)))
    return `area is not a number: got ${showValue(raw.area)}`
  if (raw.bbox != null && !isBoxXywh(raw.bbox)) return `bbox is not [x, y, w, h]: got ${showValue(raw.bbox)}`
  if (isBoxXywh(raw.bbox) && (raw.bbox[2] < 0 || raw.bbox[3] < 0)) return `bbox has a negative width or height: got ${showValue(raw.bbox)}`
  return null
}

/**
 * Why an annotation cannot be used with this image and category table, or null
 * when it can; then a missing area or bbox is filled from the mask. Builds the
 * RLE only, no full-size mask.
 */
export function resolveAnnotation(
  ann: CocoAnnotation,
  image: CocoImage | undefined,
  categories: ReadonlyMap<number, string>,
): string | null {
  if (!image) return `unknown image_id ${ann.imageId}`
  if (!categories.has(ann.categoryId)) return `unknown category_id ${ann.categoryId}`
  return resolveMask(ann, image)
}

/**
 * Why the annotation's segmentation (or, after it, its box) is unusable at this image's size, or null;
 * fills a missing area or bbox from the mask.
 */
export function resolveMask(ann: CocoAnnotation, image: CocoImage): string | null {
  let rle: Rle
  try {
    rle = segmentationToRle(ann.segmentation, image)
  } catch (error) {
    return (error as Error).message
  }
  const box = rleToBoxXywh(rle)
  if (!box) return 'zero-area mask'
  if (Number.isNaN(ann.area)) ann.area = rleArea(rle)
  if (Number.isNaN(ann.bbox[0])) ann.bbox = box
  return boxOutsideImage(ann.bbox, image)
}

/**
 * A box with nothing on the image would clamp to a corner token pair that names no part of the object
 * (e.g. <grid_31_31><grid_31_31>): a skip. A box partly outside is clipped by the grid, as the polygon is.
 * Zero width or height is a line or a point: kept when it lies on the image (its corner tokens are in order,
 * and the record's IoU says how well the mask came out); its empty mask, if it has one, was skipped above.
 */
export function boxOutsideImage(bbox: readonly [number, number, number, number], image: CocoImage): string | null {
  const [x, y, w, h] = bbox
  if (overlaps(x, w, image.width) && overlaps(y, h, image.height)) return null
  return `bbox lies outside the ${image.width}×${image.height} image: got ${showValue(bbox)}`
}

/** [start, start + size] meets [0, limit]: over a positive length when size > 0, at a point when size is 0. */
function overlaps(start: number, size: number, limit: number): boolean {
  const lo = Math.max(start, 0)
  const hi = Math.min(start + size, limit)
  return size > 0 ? hi > lo : hi >= lo
}

/**
 * The annotation's mask at its image's size, all parts OR-ed. Throws an Error
 * whose message is the skip reason on a bad or empty segmentation.
 */
export function annotationToMask(ann: CocoAnnotation, image: CocoImage): Mask {
  const rle = segmentationToRle(ann.segmentation, image)
  if (rleArea(rle) === 0) throw new Error('zero-area mask')
  return rleToMask(rle)
}

/** Any COCO segmentation form → one column-major RLE at the image's size (parts OR-ed). Throws Error(reason). */
export function segmentationToRle(seg: unknown, image: CocoImage): Rle {
  if (seg == null) throw new Error('missing segmentation')
  if (isObject(seg)) return rleObjectToRle(seg, image)
  if (!Array.isArray(seg)) throw new Error(`segmentation: expected polygons or an RLE object, got ${showValue(seg)}`)
  if (seg.length === 0) throw new Error('missing segmentation (empty polygon list)')
  if (seg.every(isObject)) return rleUnion(seg.map((rle) => rleObjectToRle(rle, image)))
  try {
    return polygonsToRle(seg, image.height, image.width)
  } catch (error) {
    throw new Error(`segmentation: ${(error as Error).message}`, {cause: error})
  }
}

function rleObjectToRle(seg: Json, image: CocoImage): Rle {
  const {size, counts} = seg
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`segmentation: RLE size is not [height, width]: got ${showValue(size)}`)
  }
  const [height, width] = size as [number, number]
  if (height !== image.height || width !== image.width) {
    throw new Error(`segmentation: RLE size [${height}, ${width}] disagrees with image size [${image.height}, ${image.width}] (h, w)`)
  }
  let values: unknown[]
  if (typeof counts === 'string') {
    try {
      values = rleFromString(counts)
    } catch (error) {
      throw new Error(`segmentation: ${(error as Error).message}`, {cause: error})
    }
  } else if (Array.isArray(counts)) values = counts
  else throw new Error(`segmentation: RLE counts are neither a list nor a string: got ${showValue(counts)}`)
  const problem = checkRleCounts(values, height, width)
  if (problem) throw new Error(`segmentation: ${problem}`)
  return {height, width, counts: values as number[]}
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isBoxXywh(value: unknown): value is [number, number, number, number] {
  return Array.isArray(value) && value.length === 4 && value.every((v) => typeof v === 'number' && Number.isFinite(v))
}
