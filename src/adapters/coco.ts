/**
 * COCO instances reader: one JSON file → typed images, categories and
 * annotations grouped by image. The file is streamed (core/json-scan) and
 * indexed in one pass, never held whole; an annotation's segmentation stays in
 * the file and is read back by byte range when asked for (IndexedAnnotation).
 *
 * Whole-run problems (unreadable file, invalid JSON, a missing top-level array,
 * a bad image or category record, duplicate image or category ids) throw a
 * GetokError naming file, record and field. A problem with one annotation never
 * throws: the annotation goes to `orphans` with a reason, e.g.
 *   "unknown image_id 42"   "segmentation: polygon part 0 has 2 points, at least 3 needed"
 *
 * Each element is validated by the pure record layer (core/coco-records.ts),
 * which also turns the three COCO segmentation forms into one mask.
 *
 * Tolerated odd-but-valid COCO: any integer ids (from 0 too), a category with
 * id 0, file_name with subfolders, null or missing iscrowd/license, and null or
 * missing bbox/area, which are then filled from the mask (tight box, pixel count).
 */
import {isUtf8} from 'node:buffer'
import {createHash} from 'node:crypto'
import {closeSync, createReadStream, openSync, readSync} from 'node:fs'
import {GetokError, errorCode, showValue} from '../core/errors.js'
import {JsonScanError, JsonTopScanner, type ScanEvent} from '../parsers/json-scan.js'
import {parseElement, scanErrorToGetok} from './coco-json.js'
import {
  type CocoAnnotation,
  type CocoImage,
  type CocoSkip,
  isObject,
  parseAnnotationRecord,
  parseCategoryRecord,
  parseImageRecord,
  resolveMask,
} from '../core/coco/records.js'

// The record layer is pure and lives in core; the reader's users get it from here too.
export * from '../core/coco/records.js'

export interface CocoDataset {
  file: string
  /** the file's bytes, hashed while they are read: what a resumed run compares (config.annotations_sha256) */
  sha256: string
  images: Map<number, CocoImage>
  categories: Map<number, string>
  /** Every image has an entry (maybe empty); annotations in file order. Crowd annotations included. */
  annotationsByImage: Map<number, CocoAnnotation[]>
  orphans: CocoSkip[]
}

/**
 * Read, validate and index a COCO instances file in one streaming pass (the
 * file is never held whole: COCO train2017 is 448 MB). Images and categories
 * are kept; each usable annotation keeps its small fields and the byte range of
 * its JSON object, and its segmentation is read back from the file when asked
 * for (IndexedAnnotation), so memory grows with the annotation count, not with
 * the polygons. See docs/scale.md.
 */
export async function readCoco(file: string): Promise<CocoDataset> {
  const indexer = new CocoIndexer(file)
  const sha256 = await scanJsonFile(file, (event) => indexer.add(event))
  return indexer.finish(sha256)
}

const TOP_ARRAYS = ['images', 'annotations', 'categories'] as const
type TopArray = (typeof TOP_ARRAYS)[number]

/** Builds a CocoDataset from the scanner's events, in any order of the top-level keys. */
class CocoIndexer {
  private readonly images = new Map<number, CocoImage>()
  private readonly categories = new Map<number, string>()
  private readonly arrays = new Set<string>()
  private readonly annIds = new Set<number>()
  private readonly source: AnnotationSource
  /** per annotation, in file order: the annotation, a field or duplicate problem, and its mask problem (undefined: not checked yet) */
  private readonly anns: IndexedAnnotation[] = []
  private readonly fieldProblems: (string | null)[] = []
  private readonly maskProblems: (string | null | undefined)[] = []

  constructor(private readonly file: string) {
    this.source = {file}
  }

  add(event: ScanEvent): void {
    const key = event.key as TopArray
    if (!TOP_ARRAYS.includes(key)) {
      if (event.kind !== 'array') parseElement(event, this.file) // other members (info, licenses) must still be valid JSON
      return
    }
    if (event.kind === 'value')
      throw new GetokError(`missing "${key}" array`, {file: this.file, field: key}, 'an array', showValue(parseElement(event, this.file)))
    if (event.kind === 'array') {
      if (this.arrays.has(key)) throw new GetokError(`"${key}" appears twice at the top level`, {file: this.file, field: key})
      this.arrays.add(key)
      return
    }
    const raw = parseElement(event, this.file)
    if (key === 'images') this.addImage(parseImageRecord(raw, this.file, event.index))
    else if (key === 'categories') this.addCategory(parseCategoryRecord(raw, this.file, event.index))
    else this.addAnnotation(raw, event)
  }

  private addImage(image: CocoImage): void {
    if (this.images.has(image.id))
      throw new GetokError(
        'duplicate image id',
        {file: this.file, record: `image ${image.id}`, field: 'id'},
        'unique ids',
        String(image.id),
      )
    this.images.set(image.id, image)
  }

  private addCategory({id, name}: {id: number; name: string}): void {
    if (this.categories.has(id))
      throw new GetokError('duplicate category id', {file: this.file, record: `category ${id}`, field: 'id'}, 'unique ids', String(id))
    this.categories.set(id, name)
  }

  /** Field checks now; the mask check too when the image is already known (COCO lists images first). */
  private addAnnotation(raw: unknown, event: ScanEvent): void {
    const {ann, reason} = parseAnnotationRecord(raw, this.file, event.index)
    const problem = reason ?? (this.annIds.has(ann.id) ? `duplicate annotation id ${ann.id}` : null)
    this.annIds.add(ann.id)
    const image = this.images.get(ann.imageId)
    this.maskProblems.push(problem === null && image ? resolveMask(ann, image) : undefined)
    this.fieldProblems.push(problem)
    this.anns.push(new IndexedAnnotation(ann, this.source, event.offset, event.bytes.length))
  }

  /** Cross-references, in the order resolveAnnotation checks them; annotations to their image or to orphans. */
  finish(sha256: string): CocoDataset {
    for (const field of ['images', 'categories', 'annotations'] as const) {
      if (!this.arrays.has(field)) throw new GetokError(`missing "${field}" array`, {file: this.file, field}, 'an array', 'undefined')
    }
    const data: CocoDataset = {
      file: this.file,
      sha256,
      images: this.images,
      categories: this.categories,
      annotationsByImage: new Map(),
      orphans: [],
    }
    for (const id of this.images.keys()) data.annotationsByImage.set(id, [])
    this.anns.forEach((ann, k) => {
      const image = this.images.get(ann.imageId)
      const reason =
        this.fieldProblems[k] ??
        (image ? null : `unknown image_id ${ann.imageId}`) ??
        (this.categories.has(ann.categoryId) ? null : `unknown category_id ${ann.categoryId}`) ??
        (this.maskProblems[k] === undefined ? resolveMask(ann, image!) : this.maskProblems[k])
      if (reason) data.orphans.push({ann, reason})
      else data.annotationsByImage.get(ann.imageId)!.push(ann)
    })
    return data
  }
}

interface AnnotationSource {
  file: string
}

/**
 * An annotation as the index keeps it: COCO's small fields in memory, the
 * segmentation read back from its byte range in the file on each access (the
 * caller converts it to a mask and lets it go).
 */
export class IndexedAnnotation implements CocoAnnotation {
  id: number
  imageId: number
  categoryId: number
  iscrowd: boolean
  area: number
  bbox: [number, number, number, number]
  readonly #source: AnnotationSource
  readonly #offset: number
  readonly #length: number

  constructor(ann: CocoAnnotation, source: AnnotationSource, offset: number, length: number) {
    this.id = ann.id
    this.imageId = ann.imageId
    this.categoryId = ann.categoryId
    this.iscrowd = ann.iscrowd
    this.area = ann.area
    this.bbox = ann.bbox
    this.#source = source
    this.#offset = offset
    this.#length = length
  }

  get segmentation(): unknown {
    const raw = readJsonSlice(this.#source.file, this.#offset, this.#length)
    if (!isObject(raw) || raw.id !== this.id) {
      throw new GetokError(
        'the annotations file changed while it was in use',
        {file: this.#source.file, record: `annotation ${this.id}`},
        `its JSON object at byte ${this.#offset}`,
      )
    }
    return raw.segmentation
  }
}

/** The JSON value at a byte range of the file; undefined when those bytes no longer parse (the file changed). */
function readJsonSlice(file: string, offset: number, length: number): unknown {
  let fd: number | undefined
  let text: string
  try {
    fd = openSync(file, 'r')
    const buf = Buffer.alloc(length)
    const read = buf.subarray(0, readSync(fd, buf, 0, length, offset))
    if (!isUtf8(read)) return undefined // was checked when indexed: the file changed
    text = read.toString('utf8')
  } catch (error) {
    throw new GetokError(`cannot read back an annotation (${errorCode(error)})`, {file})
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Stream the file through the JSON scanner, returning its sha256; read errors and syntax errors become
 * GetokErrors naming the position.
 */
async function scanJsonFile(file: string, onEvent: (event: ScanEvent) => void): Promise<string> {
  const scanner = new JsonTopScanner()
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(file, {highWaterMark: 1 << 22})) {
      hash.update(chunk as Buffer)
      for (const event of scanner.push(chunk as Buffer)) onEvent(event)
    }
    scanner.end()
    return hash.digest('hex')
  } catch (error) {
    if (error instanceof GetokError) throw error
    if (error instanceof JsonScanError) throw scanErrorToGetok(error, file)
    const err = error as NodeJS.ErrnoException
    throw new GetokError(`cannot read the annotations file (${err.code ?? err.message})`, {file})
  }
}
