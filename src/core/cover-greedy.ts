/**
 * Cover-and-climb: the greedy rule of greedy.ts over far fewer SAM prompts.
 *
 * 1. Cover: walk the object's pool (cells it touches, see candidates.ts) with
 *    anchors inside the object first, each group in raster order, and prompt a
 *    point only when no mask prompted so far for this object covers its anchor
 *    while lying mostly (≥ `precision`) inside the object: SAM returns that
 *    same mask there, so the point would add nothing new.
 * 2. Climb: run the greedy rule over what was prompted, then prompt the
 *    unprompted pool neighbours of the chosen points and run it again, until
 *    the choice settles. The best masks often come from a point beside one that
 *    is almost as good.
 *
 * Measured against the exhaustive rule in docs/benchmarks.md (`--candidates cover`).
 */
import {type GridFrame, cellNeighbours, cellToAnchor} from './grid.js'
import {type Candidate, type GreedyOptions, type GreedyResult, greedySelect} from './greedy.js'
import type {Mask} from './mask.js'
import type {CropMask} from './sam-geometry.js'

export interface CoverOptions extends GreedyOptions {
  /** share of a mask that must lie inside the object for it to stand for the points it covers */
  precision: number
}

type Fetch = (indices: number[]) => Promise<Candidate[]>

export async function coverGreedySelect(gt: Mask, f: GridFrame, pool: readonly number[], fetch: Fetch, options: CoverOptions): Promise<GreedyResult> {
  const known = new Map<number, Candidate>()
  const anchorPixel = (k: number): number => {
    const [x, y] = cellToAnchor(k % f.n, Math.floor(k / f.n), f)
    return Math.min(f.height - 1, Math.floor(y)) * f.width + Math.min(f.width - 1, Math.floor(x))
  }
  const order = [...pool].sort((a, b) => gt.data[anchorPixel(b)] - gt.data[anchorPixel(a)] || a - b)
  const covers: CropMask[] = []
  for (const k of order) {
    const p = anchorPixel(k)
    if (covers.some((m) => maskHas(m, p % f.width, Math.floor(p / f.width)))) continue
    const [cand] = await fetch([k])
    known.set(k, cand)
    if (cand.mask.area > 0 && insideShare(cand.mask, gt) >= options.precision) covers.push(cand.mask)
  }
  const inPool = new Set(pool)
  for (;;) {
    const result = greedySelect(gt, [...known.values()], options)
    const fresh = [...new Set(result.chosen.flatMap((k) => cellNeighbours(k, f.n)))].filter((q) => inPool.has(q) && !known.has(q))
    if (fresh.length === 0) return result
    for (const cand of await fetch(fresh)) known.set(cand.index, cand)
  }
}

function maskHas(m: CropMask, x: number, y: number): boolean {
  return x >= m.x0 && y >= m.y0 && x < m.x0 + m.w && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + (x - m.x0)] === 1
}

function insideShare(m: CropMask, gt: Mask): number {
  let inside = 0
  for (let y = 0; y < m.h; y++) {
    const row = (m.y0 + y) * gt.width + m.x0
    for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x] && gt.data[row + x]) inside++
  }
  return inside / m.area
}
