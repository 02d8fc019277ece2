/**
 * Seeded sampling of K grid–offset pairs per object (SPEC §5).
 *
 * Quotas say how many of the K pairs come from each region, written
 *   "ring=0.5,inside=0.25,hard=0.15,far=0.1"    fractions (sum 1), scaled by K
 *   "ring=8,inside=4,hard=3,far=1"             counts (integers, sum > 1); K is their sum
 * Fractions become counts by largest remainder (ties in priority order).
 * When an object has fewer points of a region than its quota, it takes them
 * all and the missing ones go to the other regions in priority order
 * ring → inside → hard_delete → far; the result names the shortfall.
 *
 * Randomness: mulberry32 seeded from (seed, image id, annotation id), so an
 * object's sample does not depend on which other objects a run holds, on
 * sharding or on resume. Pairs come back in raster order (by j, then i).
 */
import {type Cell, indexToCell} from '../grid/grid.js'
import {type GridRegions, REGIONS, type Region, type RegionCounts} from './regions.js'
import type {OffsetTarget} from '../grid/tokens.js'

export interface Quotas {
  mode: 'fractions' | 'counts'
  values: RegionCounts
}

export const DEFAULT_K = 12
export const DEFAULT_QUOTAS: Quotas = {mode: 'fractions', values: {ring: 0.5, inside: 0.25, hard_delete: 0.15, far: 0.1}}
export const DEFAULT_QUOTA_TEXT = 'ring=0.5,inside=0.25,hard=0.15,far=0.1'

const QUOTA_NAMES: Record<string, Region> = {ring: 'ring', inside: 'inside', hard: 'hard_delete', hard_delete: 'hard_delete', far: 'far'}

/** Parse "ring=…,inside=…,hard=…,far=…"; a region left out gets 0. Throws Error with a user-facing message. */
export function parseQuotas(text: string): Quotas {
  const values: RegionCounts = {ring: 0, inside: 0, hard_delete: 0, far: 0}
  const seen = new Set<Region>()
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = part.match(/^([a-z_]+)\s*=\s*(\S+)$/)
    const region = m ? QUOTA_NAMES[m[1]] : undefined
    if (!m || !region) throw new Error(`quota ${JSON.stringify(part)}: expected ring=…, inside=…, hard=… or far=…`)
    if (seen.has(region)) throw new Error(`quota for ${m[1]} given twice`)
    const v = Number(m[2])
    if (!Number.isFinite(v) || v < 0) throw new Error(`quota ${JSON.stringify(part)}: expected a number ≥ 0`)
    values[region] = v
    seen.add(region)
  }
  const total = REGIONS.reduce((s, r) => s + values[r], 0)
  if (Math.abs(total - 1) < 1e-6) return {mode: 'fractions', values}
  if (total > 1 && REGIONS.every((r) => Number.isInteger(values[r]))) return {mode: 'counts', values}
  throw new Error(`quotas ${JSON.stringify(text)} are neither fractions summing to 1 nor whole counts (they sum to ${total})`)
}

/** Pairs wanted per region for K pairs. */
export function quotaCounts(quotas: Quotas, k: number): RegionCounts {
  if (quotas.mode === 'counts') return {...quotas.values}
  const exact = REGIONS.map((r) => quotas.values[r] * k)
  const counts = exact.map(Math.floor)
  let left = k - counts.reduce((s, c) => s + c, 0)
  const order = REGIONS.map((_, idx) => idx).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]) || a - b)
  for (const idx of order) if (left-- > 0) counts[idx]++
  return Object.fromEntries(REGIONS.map((r, idx) => [r, counts[idx]])) as RegionCounts
}

/** The number of pairs a quota asks for: the sum of counts, or K for fractions. */
export function quotaTotal(quotas: Quotas, k: number): number {
  return quotas.mode === 'counts' ? REGIONS.reduce((s, r) => s + quotas.values[r], 0) : k
}

export interface SampledPair {
  point: Cell
  region: Region
  offset: OffsetTarget
}

export interface SampleResult {
  /** raster order */
  pairs: SampledPair[]
  /** pairs the quotas asked for, per region */
  wanted: RegionCounts
  /** per region, how many the object lacked against its quota (regions with none left out) */
  shortfall: Partial<RegionCounts>
}

/** Draw the pairs of one object. `seed` should already be mixed with the object's ids (objectSeed). */
export function samplePairs(grid: GridRegions, k: number, quotas: Quotas, seed: number): SampleResult {
  const wanted = quotaCounts(quotas, k)
  const pools = poolsByRegion(grid)
  const take = allocate(wanted, pools)
  const random = mulberry32(seed)
  const chosen: number[] = []
  for (const r of REGIONS) chosen.push(...drawWithoutReplacement(pools[r], take[r], random))
  chosen.sort((a, b) => a - b)
  const shortfall: Partial<RegionCounts> = {}
  for (const r of REGIONS) if (pools[r].length < wanted[r]) shortfall[r] = wanted[r] - pools[r].length
  return {
    pairs: chosen.map((idx) => ({point: indexToCell(idx, grid.n), region: grid.regions[idx], offset: grid.targets[idx]})),
    wanted,
    shortfall,
  }
}

function poolsByRegion(grid: GridRegions): Record<Region, number[]> {
  const pools: Record<Region, number[]> = {ring: [], inside: [], hard_delete: [], far: []}
  grid.regions.forEach((r, idx) => pools[r].push(idx))
  return pools
}

/** Take each quota as far as the pool allows, then hand the missing pairs out in priority order. */
function allocate(wanted: RegionCounts, pools: Record<Region, number[]>): RegionCounts {
  const take = {} as RegionCounts
  let missing = 0
  for (const r of REGIONS) {
    take[r] = Math.min(wanted[r], pools[r].length)
    missing += wanted[r] - take[r]
  }
  for (const r of REGIONS) {
    const extra = Math.min(missing, pools[r].length - take[r])
    take[r] += extra
    missing -= extra
  }
  return take
}

/** The first `count` items of a seeded partial Fisher–Yates shuffle of a copy of items. */
function drawWithoutReplacement(items: readonly number[], count: number, random: () => number): number[] {
  const a = [...items]
  for (let t = 0; t < count; t++) {
    const u = t + Math.floor(random() * (a.length - t))
    const tmp = a[t]
    a[t] = a[u]
    a[u] = tmp
  }
  return a.slice(0, count)
}

/** mulberry32: a small, fast 32-bit PRNG; uniform doubles in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One 32-bit seed per object from the run seed and the object's ids (integers, any size up to 2^53). */
export function objectSeed(seed: number, imageId: number, annId: number): number {
  let h = 0x811c9dc5
  for (const v of [seed, imageId, annId]) {
    for (const word of [v >>> 0, Math.floor(v / 4294967296) >>> 0]) {
      h = Math.imul(h ^ word, 0x9e3779b1)
      h ^= h >>> 16
      h = Math.imul(h, 0x85ebca6b)
      h ^= h >>> 13
    }
  }
  return h >>> 0
}
