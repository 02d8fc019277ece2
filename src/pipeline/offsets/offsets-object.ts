/**
 * Offsets for one object (SPEC §5–6): classify every grid point against the
 * ground-truth mask, sample K grid–offset pairs, write them as a simulated
 * previous prediction and its refinement target, and do the same for the box
 * corners. Pure: the object's mask comes in, a record goes out.
 *
 *   prev    <seg><grid_9_4><grid_10_4><grid_9_5></seg>                 sampled points, raster order
 *   target  <offset><seg><OFF_0_1><DELETE><OFF_0_0></seg></offset>     one offset per point, same order
 */
import type {CocoImage} from '../../adapters/coco.js'
import {type Cell, type GridFrame, type Move, MOVES} from '../../core/grid/grid.js'
import {
  type RegionCounts,
  type RegionOptions,
  type TieOrder,
  REGIONS,
  boxCornerTargets,
  classifyGrid,
  countRegions,
} from '../../core/offsets/regions.js'
import {type Quotas, type SampledPair, objectSeed, samplePairs} from '../../core/offsets/sampling.js'
import {type TokenStyle, boxToTokens, cellsToSegTokens, offsetToken, offsetsToTokens} from '../../core/grid/tokens.js'
import {countReasons} from '../../core/stats.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import type {PreparedObject} from '../shared/objects.js'
import {type ObjectRecordHead, objectRecordHead} from '../shared/objects.js'

export interface OffsetsOptions extends RegionOptions {
  grid: number
  /** pairs per object */
  k: number
  quotas: Quotas
  seed: number
  tokenStyle: TokenStyle
  includeCrowd: boolean
}

export interface OffsetsRecord extends ObjectRecordHead {
  /** sampled pairs, raster order; offset [du, dv] or "delete" */
  pairs: SampledPair[]
  /** the sampled points as a simulated previous prediction, <seg>…</seg> */
  prev: string
  /** the refinement answer to prev, <offset><seg>…</seg></offset> */
  target: string
  /** the box's corner tokens (nearest anchors of the COCO bbox), <box>…</box> */
  box_prev: string
  /** one move per corner toward the true corner, <offset><box>…</box></offset> */
  box_target: string
  box_offsets: [Move, Move]
  /** regions of all n² grid points of this object */
  population: RegionCounts
  /** pairs the quotas asked for, per region */
  quota: RegionCounts
  /** per region, how many points the object lacked against its quota (empty when none) */
  shortfall: Partial<RegionCounts>
  k: number
  seed: number
  hard_band: number
  flip_v: boolean
  ties: TieOrder
  token_style: TokenStyle
  /** with --curated: the curate record's grid points and seg (null when it has none) */
  curated_points?: Cell[] | null
  curated_seg?: string | null
  /** with --curated: the curate record's decode rule, where it names one */
  decode?: DecodeRule
  /** box rule: the box targets were taken from the curate record's box_offsets, which differ from this run's */
  box_from_curated?: true
}

export function offsetsRecord(
  image: CocoImage,
  object: PreparedObject,
  categories: ReadonlyMap<number, string>,
  o: OffsetsOptions,
): OffsetsRecord {
  const {ann, mask, bbox} = object
  const frame: GridFrame = {n: o.grid, width: image.width, height: image.height}
  const grid = classifyGrid(mask, frame, o)
  const sample = samplePairs(grid, o.k, o.quotas, objectSeed(o.seed, image.id, ann.id))
  const corners = boxCornerTargets(bbox, frame, o)
  return {
    ...objectRecordHead(image, object, categories, o.grid),
    pairs: sample.pairs,
    prev: cellsToSegTokens(
      sample.pairs.map((p) => p.point),
      o.grid,
      o.tokenStyle,
    ),
    target: offsetsToTokens(
      'seg',
      sample.pairs.map((p) => p.offset),
      o.tokenStyle,
    ),
    box_prev: boxToTokens(corners[0].cell, corners[1].cell, o.tokenStyle),
    box_target: offsetsToTokens(
      'box',
      corners.map((c) => c.move),
      o.tokenStyle,
    ),
    box_offsets: [corners[0].move, corners[1].move],
    population: countRegions(grid.regions),
    quota: sample.wanted,
    shortfall: sample.shortfall,
    k: o.k,
    seed: o.seed,
    hard_band: o.hardBand,
    flip_v: o.flipV,
    ties: o.ties,
    token_style: o.tokenStyle,
  }
}

// ---- summary ---------------------------------------------------------------

export interface OffsetsSummary {
  records: number
  pairs: number
  /** regions of the sampled pairs */
  regions: RegionCounts
  /** offset tokens of the sampled pairs, every token of the vocabulary listed */
  offsets: Record<string, number>
  /** regions of all grid points of all objects, before sampling */
  population: RegionCounts
  /** offset tokens of the box corners */
  box_offsets: Record<string, number>
  /** objects that lacked points of a region against its quota */
  shortfall_objects: RegionCounts
  /** objects with no inside and no ring point: every sampled target is <DELETE> */
  unreachable: number
  skipped: number
  skip_reasons: Record<string, number>
  /** with --curated; box_rule and box_from_curated only when some record is a box-rule one */
  curated?: {joined: number; missing: number; box_rule?: number; box_from_curated?: number}
}

export function summariseOffsets(records: readonly OffsetsRecord[], skips: readonly {reason: string}[], style: TokenStyle): OffsetsSummary {
  const skipReasons = countReasons(skips)
  const skipped = skips.length
  const zero = (): RegionCounts => ({ring: 0, inside: 0, hard_delete: 0, far: 0})
  const offsetZero = () => Object.fromEntries([...MOVES, 'delete' as const].map((m) => [offsetToken(m, style), 0]))
  const s: OffsetsSummary = {
    records: records.length,
    pairs: 0,
    regions: zero(),
    offsets: offsetZero(),
    population: zero(),
    box_offsets: offsetZero(),
    shortfall_objects: zero(),
    unreachable: 0,
    skipped,
    skip_reasons: skipReasons,
  }
  for (const r of records) {
    s.pairs += r.pairs.length
    for (const p of r.pairs) {
      s.regions[p.region]++
      s.offsets[offsetToken(p.offset, style)]++
    }
    for (const m of r.box_offsets) s.box_offsets[offsetToken(m, style)]++
    for (const region of REGIONS) {
      s.population[region] += r.population[region]
      if (r.shortfall[region]) s.shortfall_objects[region]++
    }
    if (r.population.inside + r.population.ring === 0) s.unreachable++
  }
  if (records.some((r) => r.curated_points !== undefined)) {
    const missing = records.filter((r) => r.curated_points === null).length
    s.curated = {joined: records.length - missing, missing}
    const boxRule = records.filter((r) => r.decode === 'box').length
    if (boxRule > 0) s.curated = {...s.curated, box_rule: boxRule, box_from_curated: records.filter((r) => r.box_from_curated).length}
  }
  return s
}
