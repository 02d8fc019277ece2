/**
 * Which grid points the box rule's greedy (box-greedy.ts) tries at each step:
 *   all:     every grid point (the exhaustive reference)
 *   pool:mM: the cells the object touches, grown by M cells (the same at every step)
 *   miss:K:  the K cells where the current joint mask misses most of the object: cells holding a
 *            pixel of G that the mask leaves out, anchors deepest inside that missed part first,
 *            then by how many missed pixels the cell holds. A positive click adds what lies around
 *            it, so the clicks worth trying are where the mask falls short (SAM's own interactive
 *            training samples its corrective clicks from the error region the same way).
 * docs/benchmarks.md ("Box rule") has what each costs and reaches.
 */
import {type GridFrame, cellToAnchor} from '../grid/grid.js'
import {type CropMask, cropHas} from '../masks/crop-mask.js'
import {distanceInside} from '../masks/distance.js'
import {type Mask, maskToBoxXywh} from '../masks/mask.js'
import type {BoxCandidates} from './box-greedy.js'
import {allIndices, objectPool} from './candidates.js'

export type BoxOrder = {kind: 'all'} | {kind: 'pool'; margin: number} | {kind: 'miss'; k: number}

/** `--candidates fast` under the box rule (provisional until measured; docs/benchmarks.md "Box rule"). */
export const BOX_FAST: BoxOrder = {kind: 'miss', k: 8}

/** `all`, `pool:m1`, `miss:8`, … as in the benchmark's names. */
export function parseBoxOrder(text: string): BoxOrder {
  if (text === 'all') return {kind: 'all'}
  const m = /^(pool:m|miss:)(\d+)$/.exec(text)
  if (!m) throw new Error(`box candidate order must be all, pool:mM or miss:K, got ${JSON.stringify(text)}`)
  return m[1] === 'miss:' ? {kind: 'miss', k: Math.max(1, Number(m[2]))} : {kind: 'pool', margin: Number(m[2])}
}

export function boxOrderName(o: BoxOrder): string {
  return o.kind === 'all' ? 'all' : o.kind === 'pool' ? `pool:m${o.margin}` : `miss:${o.k}`
}

export function boxCandidates(order: BoxOrder, gt: Mask, grid: GridFrame): BoxCandidates {
  if (order.kind === 'all') {
    const all = allIndices(grid.n)
    return () => all
  }
  if (order.kind === 'pool') {
    const pool = objectPool(gt, grid, order.margin)
    return () => pool
  }
  return ({mask}) => missedCells(gt, mask, grid, order.k)
}

/**
 * The k cells holding pixels of G outside `mask`, ranked: depth of the cell's anchor inside the
 * missed part (G \ mask), then the cell's count of missed pixels, then raster index.
 */
export function missedCells(gt: Mask, mask: CropMask, grid: GridFrame, k: number): number[] {
  const box = maskToBoxXywh(gt)
  if (!box) return []
  // the missed part on G's box grown by a pixel (beyond it nothing is missed, so depths are exact)
  const x0 = Math.max(0, box[0] - 1)
  const y0 = Math.max(0, box[1] - 1)
  const w = Math.min(gt.width, box[0] + box[2] + 1) - x0
  const h = Math.min(gt.height, box[1] + box[3] + 1) - y0
  const missed = new Uint8Array(w * h)
  const count = new Map<number, number>()
  const colCell = new Int32Array(w)
  for (let u = 0; u < w; u++) colCell[u] = Math.min(grid.n - 1, Math.floor(((x0 + u + 0.5) * grid.n) / grid.width))
  for (let v = 0; v < h; v++) {
    const y = y0 + v
    const row = Math.min(grid.n - 1, Math.floor(((y + 0.5) * grid.n) / grid.height)) * grid.n
    for (let u = 0; u < w; u++) {
      const x = x0 + u
      if (!gt.data[y * gt.width + x] || cropHas(mask, x, y)) continue
      missed[v * w + u] = 1
      const cell = row + colCell[u]
      count.set(cell, (count.get(cell) ?? 0) + 1)
    }
  }
  if (count.size === 0) return []
  const depth = distanceInside({width: w, height: h, data: missed})
  const depthOf = (cell: number): number => {
    const [ax, ay] = cellToAnchor(cell % grid.n, Math.floor(cell / grid.n), grid)
    const u = Math.floor(ax) - x0
    const v = Math.floor(ay) - y0
    return u >= 0 && v >= 0 && u < w && v < h ? depth[v * w + u] : 0
  }
  const ranked = [...count.keys()].map((cell) => ({cell, depth: depthOf(cell), missed: count.get(cell)!}))
  // depths may be Infinity (a missed part that fills the whole image), so compare rather than subtract
  ranked.sort((a, b) => (a.depth !== b.depth ? (b.depth > a.depth ? 1 : -1) : b.missed - a.missed || a.cell - b.cell))
  return ranked.slice(0, k).map((r) => r.cell)
}
