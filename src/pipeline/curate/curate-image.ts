/**
 * Curate one image: ground-truth masks for its annotations, one SAM encoder
 * pass, one greedy run per object under the decode rule (SPEC §8). Under
 * `union` the candidates are single-click masks, decoded on demand and shared
 * by the image's objects; under `box` each object's joint prompts are its own
 * (box-select.ts). Dependencies come in as arguments; nothing here touches the CLI.
 */
import {type GridFrame, type Cell, boxXywhToCorners, indexToCell, sortCellsRaster} from '../../core/grid/grid.js'
import {type GreedyResult, greedySelect} from '../../core/selection/greedy.js'
import {coverGreedySelect} from '../../core/selection/cover-greedy.js'
import {FAST_COVER} from '../../core/selection/fast-settings.js'
import type {Mask} from '../../core/masks/mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import {type CandidateMode, allIndices, objectPool} from '../../core/selection/candidates.js'
import {type TokenStyle, boxToTokens, cellsToSegTokens, gridToken, offsetsToTokens} from '../../core/grid/tokens.js'
import {pointingCell} from '../../core/grid/pointing.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import type {CocoAnnotation, CocoImage} from '../../core/coco/records.js'
import type {ModelIdentity, SamEngine} from '../../sam/engine.js'
import type {Skip} from '../../adapters/shards.js'
import {ImageCandidates} from './image-candidates.js'
import {type ObjectRecordHead, type PreparedObject, objectRecordHead} from '../shared/objects.js'
import {encodeImageFile} from '../shared/encode-image.js'
import {type BoxSelection, boxOrderFor, selectBoxPoints} from './box-select.js'

export interface CurateOptions {
  grid: number
  tau: number
  epsilon: number
  maxTokens: number
  policy: MaskPolicy
  candidates: CandidateMode
  /** cells added around the object's cells in pool mode */
  margin: number
  includeCrowd: boolean
  tokenStyle: TokenStyle
  /**
   * prompts per decoder run, for both rules: 1 on the CPU, where a run of 8 costs 8–17 % more a prompt
   * than 8 runs of one (docs/benchmarks.md "Prompts per run"), 16 on a GPU
   */
  batch: number
  /** the decode rule the tokens are chosen for (SPEC §8); absent: union */
  decode?: DecodeRule
}

export interface CurateRecord extends ObjectRecordHead {
  points: Cell[]
  seg: string
  box: string
  /** box rule: the box corners' moves to the lattice corners, <offset><box><OFF_a_b><OFF_c_d></box></offset> */
  box_offsets?: string
  /** the pointing answer: the grid token whose anchor lies deepest in the object (core/grid/pointing.ts; since 0.4.0) */
  point: string
  tokens: number
  iou: number
  tau: number
  reached: boolean
  stop: GreedyResult['stop']
  policy: MaskPolicy
  /** the rule `iou` was measured under (SPEC §8); records written before 0.3.0 lack it: union */
  decode: DecodeRule
  candidates: CandidateMode
  model: string
  model_hash: string
  token_style: TokenStyle
}

export interface ImageResult {
  records: CurateRecord[]
  skips: Skip[]
  decoderCalls: number
  decoderRuns: number
  /** greedy traces per annotation, for τ sweeps */
  traces: {ann: CocoAnnotation; result: GreedyResult}[]
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
  const result: ImageResult = {records: [], skips: [], decoderCalls: 0, decoderRuns: 0, traces: []}
  if (objects.length === 0) return result

  const embedding = await encodeImageFile(engine, image, imagePath)
  const grid: GridFrame = {n: options.grid, width: image.width, height: image.height}
  const [calls0, runs0] = [engine.decoderCalls, engine.decoderRuns]
  if (options.decode === 'box') {
    const box = {...options, order: boxOrderFor(options.candidates, options.margin), runSize: options.batch}
    for (const object of objects) {
      // zero grid points is a valid answer under the box rule: every object gets a record
      const selection = await selectBoxPoints(engine, embedding, object, grid, box)
      result.traces.push({ann: object.ann, result: selection.greedy})
      result.records.push(toRecord(image, object, categories, selection.greedy, grid, options, model, selection))
    }
    result.decoderCalls = engine.decoderCalls - calls0
    result.decoderRuns = engine.decoderRuns - runs0
    return result
  }
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
  result.decoderRuns = engine.decoderRuns - runs0
  return result
}

/** All: every grid point, the reference. Pool: the object's pool, whole. Fast: cover-and-climb (fast-settings.ts). */
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
  return greedySelect(mask, await cache.get(objectPool(mask, grid, options.margin)), rule)
}

export function toRecord(
  image: CocoImage,
  object: PreparedObject,
  categories: ReadonlyMap<number, string>,
  greedy: GreedyResult,
  grid: GridFrame,
  options: CurateOptions,
  model: ModelIdentity,
  /** box rule: the box and its corner moves the selection was made with */
  boxRule?: Pick<BoxSelection, 'box' | 'boxMoves'>,
): CurateRecord {
  const points = sortCellsRaster(
    greedy.chosen.map((k) => indexToCell(k, grid.n)),
    grid.n,
  )
  const [tl, br] = boxRule?.box ?? boxXywhToCorners(object.bbox, grid)
  return {
    ...objectRecordHead(image, object, categories, grid.n),
    points,
    seg: cellsToSegTokens(points, grid.n, options.tokenStyle),
    box: boxToTokens(tl, br, options.tokenStyle),
    ...(boxRule ? {box_offsets: offsetsToTokens('box', boxRule.boxMoves, options.tokenStyle)} : {}),
    point: gridToken(...pointingCell(object.mask, grid)!, options.tokenStyle),
    tokens: points.length,
    iou: round6(greedy.iou),
    tau: options.tau,
    // decided on the written value, so a reader checking iou ≥ tau always agrees
    reached: round6(greedy.iou) >= options.tau,
    stop: greedy.stop,
    policy: options.policy,
    decode: options.decode ?? 'union',
    candidates: options.candidates,
    model: model.name,
    model_hash: model.hash,
    token_style: options.tokenStyle,
  }
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6
