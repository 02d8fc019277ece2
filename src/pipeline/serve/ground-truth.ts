/**
 * A request's ground truth, in the form getok eval scores against (core/eval/score.ts GroundTruth):
 *   COCO ids    the annotations' masks (cached by annotation id, bounded by bytes) and COCO boxes
 *   gt objects  any COCO segmentation form, checked by the same record layer as the COCO reader
 *               (core/coco/records.ts), so a bad polygon or RLE gets the reader's reason; the box is
 *               the object's bbox when given, else the mask's tight box
 * Both answer a 422 naming the field when the geometry cannot be used. Making a mask takes
 * milliseconds (a polygon over a 640x480 image, about 5), so both pace themselves (pacer()): a
 * request of many objects does not keep the server from its other requests. A request's samples
 * that name the same ground truth share one, made once (RequestTruths).
 */
import {type CocoDataset, type CocoImage, annotationToMask, segmentationToRle} from '../../adapters/coco.js'
import type {CocoAnnotation} from '../../core/coco/records.js'
import {type GroundTruth, groundTruth} from '../../core/eval/score.js'
import type {BoxXywh} from '../../core/masks/box.js'
import type {Mask} from '../../core/masks/mask.js'
import {rleArea, rleToBoxXywh, rleToMask} from '../../core/masks/rle.js'
import {ByteLru} from '../../server/lru.js'
import {type CocoSampleRequest, type GtSampleRequest, HttpError} from '../../server/protocol.js'

const field = (at: string, key: string) => (at ? `${at}.${key}` : key)

export class CocoTruth {
  /** annotation id → its annotation and image */
  private readonly annotations = new Map<number, {ann: CocoAnnotation; image: CocoImage}>()
  private readonly orphanReasons = new Map<number, string>()
  readonly masks: ByteLru<Mask>

  constructor(
    readonly data: CocoDataset,
    cacheBytes: number,
  ) {
    for (const [imageId, anns] of data.annotationsByImage) {
      const image = data.images.get(imageId)!
      for (const ann of anns) this.annotations.set(ann.id, {ann, image})
    }
    for (const {ann, reason} of data.orphans) this.orphanReasons.set(ann.id, reason)
    this.masks = new ByteLru(cacheBytes)
  }

  get annotationCount(): number {
    return this.annotations.size
  }

  image(s: CocoSampleRequest): CocoImage {
    const image = this.data.images.get(s.image_id)
    if (!image) throw new HttpError(422, `${field(s.at, 'image_id')}: unknown image_id ${s.image_id} (not in ${this.data.file})`)
    return image
  }

  async truth(s: CocoSampleRequest, image: CocoImage, pace = pacer()): Promise<GroundTruth> {
    const where = field(s.at, s.ann_ids.length === 1 ? 'ann_id' : 'ann_ids')
    const anns = s.ann_ids.map((id) => {
      const known = this.annotations.get(id)
      if (known && known.image.id === image.id) return known.ann
      const why = known
        ? `annotation ${id} belongs to image ${known.image.id}, not ${image.id}`
        : this.orphanReasons.has(id)
          ? `annotation ${id} cannot be used: ${this.orphanReasons.get(id)}`
          : `unknown annotation id ${id}`
      throw new HttpError(422, `${where}: ${why}`)
    })
    const masks: Mask[] = []
    for (const [k, ann] of anns.entries()) {
      if (k > 0) await pace()
      masks.push(this.mask(ann, image, where))
    }
    return groundTruth(
      masks,
      anns.map((a) => a.bbox),
    )
  }

  private mask(ann: CocoAnnotation, image: CocoImage, where: string): Mask {
    const key = String(ann.id)
    const hit = this.masks.get(key)
    if (hit) return hit
    let mask: Mask
    try {
      mask = annotationToMask(ann, image)
    } catch (error) {
      throw new HttpError(422, `${where}: annotation ${ann.id}: ${(error as Error).message}`)
    }
    this.masks.set(key, mask, mask.data.byteLength)
    return mask
  }
}

/** The ground truth a gt sample sends, on an image of its declared size. */
export async function sentTruth(s: GtSampleRequest, pace = pacer()): Promise<GroundTruth> {
  const {width, height} = s.gt[0]
  const image: CocoImage = {id: 0, fileName: s.image, width, height}
  const masks: Mask[] = []
  const boxes: BoxXywh[] = []
  for (const [k, object] of s.gt.entries()) {
    if (k > 0) await pace()
    const where = `${field(s.at, 'gt')}${s.gt.length > 1 ? `[${k}]` : ''}.segmentation`
    let rle
    try {
      rle = segmentationToRle(object.segmentation, image)
    } catch (error) {
      throw new HttpError(422, `${where}: ${(error as Error).message.replace(/^segmentation: /, '')}`)
    }
    if (rleArea(rle) === 0) throw new HttpError(422, `${where}: the mask is empty (zero area)`)
    masks.push(rleToMask(rle))
    boxes.push(object.bbox ?? rleToBoxXywh(rle)!)
  }
  return groundTruth(masks, boxes)
}

/** Ground truths made and shared, server-wide (GET /stats ground_truths). */
export interface TruthCounts {
  built: number
  shared: number
}

/**
 * One request's ground truths, one per distinct naming: a GRPO request holds a prompt's G rollouts with
 * the same gt, and a 640x480 mask each would be 1.2 GB for 4096 samples. Keys: the gt objects' JSON text
 * (no longer than the body; it merges only values no valid gt holds: ±Infinity, NaN → null), or image_id and
 * ann_ids. Only what was made is kept, so a failure is made, and named, by the request's first failing sample.
 */
export class RequestTruths {
  private readonly made = new Map<string, GroundTruth>()

  constructor(
    private readonly coco: CocoTruth,
    private readonly counts: TruthCounts,
    private readonly pace = pacer(),
  ) {}

  ofCoco(s: CocoSampleRequest, image: CocoImage): Promise<GroundTruth> {
    return this.get(`coco ${image.id} ${s.ann_ids.join(',')}`, () => this.coco.truth(s, image, this.pace))
  }

  ofSent(s: GtSampleRequest): Promise<GroundTruth> {
    return this.get(`gt ${JSON.stringify(s.gt)}`, () => sentTruth(s, this.pace))
  }

  private async get(key: string, make: () => Promise<GroundTruth>): Promise<GroundTruth> {
    const hit = this.made.get(key)
    if (hit) {
      this.counts.shared++
      return hit
    }
    const gt = await make()
    this.made.set(key, gt)
    this.counts.built++
    return gt
  }
}

/**
 * A pace for a request's work, called between its masks and samples: a call yields one turn of the
 * event loop (setImmediate runs after I/O, so the requests that arrived meanwhile are read) once `ms`
 * of work have passed since the last. Never after the last, nor at every call: a request that yields
 * is queued a turn later and misses the batch it would have joined (batcher.ts); one of a sample and
 * an object is queued at once, as before there was pacing.
 */
export function pacer(ms = 10): () => Promise<void> {
  let last = performance.now()
  return async () => {
    if (performance.now() - last < ms) return
    await new Promise((resolve) => setImmediate(resolve))
    last = performance.now()
  }
}
