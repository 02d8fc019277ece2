/**
 * Curate one image: ground-truth masks for its annotations, one SAM encoder
 * pass, candidate masks decoded on demand and shared, one greedy run per object.
 * Dependencies come in as arguments; nothing here touches the CLI.
 */
import {type GridFrame, type Cell, indexToCell, pointToNearestCell, sortCellsRaster} from '../../core/grid/grid.js'
import {type GreedyResult, greedySelect} from '../../core/selection/greedy.js'
import {lazyGreedySelect} from '../../core/selection/lazy-greedy.js'
import {coverGreedySelect} from '../../core/selection/cover-greedy.js'
import {type Mask, maskArea, maskToBoxXywh} from '../../core/masks/mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import {type CandidateMode, allIndices, objectPool} from '../../core/selection/candidates.js'
import {type TokenStyle, boxToTokens, cellsToSegTokens} from '../../core/grid/tokens.js'
import {GetokError} from '../../core/errors.js'
import {type CocoAnnotation, type CocoImage, annotationToMask} from '../../adapters/coco.js'
import {loadImage, resizeForSam} from '../../adapters/images.js'
import type {ImageEmbedding, ModelIdentity, SamEngine} from '../../sam/engine.js'
import type {Skip} from '../../adapters/shards.js'
import {ImageCandidates} from './image-candidates.js'
import {type ObjectRecordHead, objectRecordHead} from '../shared/objects.js'

export interface CurateOptions {
  grid: number
  tau: number
  epsilon: number
  maxTokens: number
  policy: MaskPolicy
  candidates: CandidateMode
  /** cells added around the object's cells in pool mode */
  margin: number
  /** pool mode probes every stride-th pool cell first; 1 decodes the whole pool */
  stride: number
  includeCrowd: boolean
  tokenStyle: TokenStyle
  /** prompts per decoder run */
  batch: number
}

export interface CurateRecord extends ObjectRecordHead {
  points: Cell[]
  seg: string
  box: string
  tokens: number
  iou: number
  tau: number
  reached: boolean
  stop: GreedyResult['stop']
  policy: MaskPolicy
  candidates: CandidateMode
  model: string
  model_hash: string
  token_style: TokenStyle
}

export interface ImageResult {
  records: CurateRecord[]
  skips: Skip[]
  decoderCalls: number
  /** greedy traces per annotation, for τ sweeps */
  traces: {ann: CocoAnnotation; result: GreedyResult}[]
}

export interface PreparedObject {
  ann: CocoAnnotation
  mask: Mask
  /** COCO's area, or the mask's pixel count where the file has none */
  area: number
  /** COCO's [x, y, w, h], or the mask's tight box where the file has none */
  bbox: [number, number, number, number]
}

/** Ground-truth masks for an image's annotations; bad or unwanted ones become skips with a reason. */
export function prepareObjects(
  image: CocoImage,
  anns: readonly CocoAnnotation[],
  includeCrowd: boolean,
): {objects: PreparedObject[]; skips: Skip[]} {
  const objects: PreparedObject[] = []
  const skips: Skip[] = []
  for (const ann of anns) {
    if (ann.iscrowd && !includeCrowd) {
      skips.push({image_id: image.id, ann_id: ann.id, reason: 'crowd annotation (use --include-crowd)'})
      continue
    }
    try {
      const mask = annotationToMask(ann, image)
      objects.push({ann, mask, area: ann.area ?? maskArea(mask), bbox: ann.bbox ?? maskToBoxXywh(mask)!})
    } catch (error) {
      skips.push({image_id: image.id, ann_id: ann.id, reason: (error as Error).message})
    }
  }
  return {objects, skips}
}

/** Box corners at the nearest anchors of the COCO box [x, y, w, h] (SPEC §2). */
export function boxToCorners(bbox: readonly number[], f: GridFrame): [Cell, Cell] {
  const [x, y, w, h] = bbox
  return [pointToNearestCell(x, y, f), pointToNearestCell(x + w, y + h, f)]
}

/** Decode the photo, check its size against the annotation file, run the SAM encoder once. */
export async function encodeImageFile(engine: SamEngine, image: CocoImage, imagePath: string): Promise<ImageEmbedding> {
  const loaded = await loadImage(imagePath).catch((error) => {
    throw error instanceof GetokError ? error.at({record: `image ${image.id}`}) : error
  })
  if (loaded.width !== image.width || loaded.height !== image.height) {
    throw new GetokError(
      'image size disagrees with the annotation file (not resized: masks would not line up)',
      {file: imagePath, record: `image ${image.id}`, field: 'width/height'},
      `${image.width}x${image.height}`,
      `${loaded.width}x${loaded.height}`,
    )
  }
  const {rgb, frame} = await resizeForSam(loaded).catch((error) => {
    throw error instanceof GetokError ? error.at({record: `image ${image.id}`}) : error
  })
  return engine.encode(rgb, frame)
}

export async function curateImage(
  engine: SamEngine,
  image: CocoImage,
  imagePath: string,
  objects: readonly PreparedObject[],
  categories: ReadonlyMap<number, string>,
  options: CurateOptions,
  model: ModelIdentity,
): Promise<ImageResult> {
  const result: ImageResult = {records: [], skips: [], decoderCalls: 0, traces: []}
  if (objects.length === 0) return result

  const embedding = await encodeImageFile(engine, image, imagePath)
  const grid: GridFrame = {n: options.grid, width: image.width, height: image.height}
  const cache = new ImageCandidates(engine, embedding, grid, [options.policy], options.batch)

  for (const object of objects) {
    const {ann, mask} = object
    const greedy = await selectPoints(mask, grid, cache, options)
    result.traces.push({ann, result: greedy})
    if (greedy.chosen.length === 0) {
      result.skips.push({
        image_id: image.id,
        ann_id: ann.id,
        reason: `no grid point's SAM mask overlaps the object at n = ${options.grid} (too small or thin for the grid)`,
      })
      continue
    }
    result.records.push(toRecord(image, object, categories, greedy, grid, options, model))
  }
  result.decoderCalls = cache.decoded
  return result
}

/** All: every grid point, the reference. Pool: the object's pool (lazily with --stride > 1). Fast: cover-and-climb. */
export async function selectPoints(mask: Mask, grid: GridFrame, cache: ImageCandidates, options: CurateOptions): Promise<GreedyResult> {
  const rule = {tau: options.tau, epsilon: options.epsilon, maxTokens: options.maxTokens}
  if (options.candidates === 'all') return greedySelect(mask, await cache.get(allIndices(grid.n)), rule)
  if (options.candidates === 'fast') {
    // masks decoded for the image's earlier objects are free candidates here
    return coverGreedySelect(mask, grid, objectPool(mask, grid, FAST_COVER.margin), (ks) => cache.get(ks), {
      ...rule,
      ...FAST_COVER,
      known: cache.known(),
    })
  }
  const pool = objectPool(mask, grid, options.margin)
  return lazyGreedySelect(mask, grid.n, pool, (ks) => cache.get(ks), {...rule, stride: options.stride, smallPool: LAZY_SMALL_POOL})
}

/**
 * Settings of `--candidates fast`, chosen on the 97 tiny-coco images with objects, val2017 and
 * train2017 (docs/benchmarks.md): walk the pool deepest anchor first, letting a mask stand for the
 * points it covers once 80% of it lies inside the object, on a checkerboard when the object touches
 * more than 64 cells and on every other row and column beyond 200. Anchors outside the object are
 * walked only in pools of at most 32 cells, and only where the object covers a tenth of the cell.
 * Then climb from the chosen points, up to one cell beyond the cells the object touches, to
 * neighbours whose anchor lies in the object or in a chosen mask; only objects of at most 4 cells,
 * whose best mask often comes from a point just outside them, climb to any neighbour. Pools over 64
 * cells climb along edges only (on a checkerboard the diagonal neighbours were walked already) and
 * skip a neighbour that a mask 99% inside the object already covers (in smaller pools that skip
 * cost IoU: SAM at a point inside a precise part of the object may return the whole object).
 * Masks decoded for the image's earlier objects join as free candidates, which is what lets the
 * climb stay this short.
 */
export const FAST_COVER = {
  margin: 0,
  precision: 0.8,
  order: 'depth',
  outside: true,
  outsideMaxPool: 32,
  outsideMinCover: 0.1,
  sparseAbove: {checker: 64, quarter: 200},
  climbMargin: 1,
  climbEdgesAbove: 64,
  climbOutsideMaxPool: 4,
  climbPrecision: 0.99,
  climbSkipAbove: 64,
} as const

/** Pools this small are decoded whole: probing saves little there. */
export const LAZY_SMALL_POOL = 16

export function toRecord(
  image: CocoImage,
  object: PreparedObject,
  categories: ReadonlyMap<number, string>,
  greedy: GreedyResult,
  grid: GridFrame,
  options: CurateOptions,
  model: ModelIdentity,
): CurateRecord {
  const points = sortCellsRaster(
    greedy.chosen.map((k) => indexToCell(k, grid.n)),
    grid.n,
  )
  const [tl, br] = boxToCorners(object.bbox, grid)
  return {
    ...objectRecordHead(image, object, categories, grid.n),
    points,
    seg: cellsToSegTokens(points, grid.n, options.tokenStyle),
    box: boxToTokens(tl, br, options.tokenStyle),
    tokens: points.length,
    iou: round6(greedy.iou),
    tau: options.tau,
    // decided on the written value, so a reader checking iou ≥ tau always agrees
    reached: round6(greedy.iou) >= options.tau,
    stop: greedy.stop,
    policy: options.policy,
    candidates: options.candidates,
    model: model.name,
    model_hash: model.hash,
    token_style: options.tokenStyle,
  }
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6
