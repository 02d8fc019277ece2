/**
 * Which grid points to prompt for an object (SPEC §3, "faster candidate strategy").
 *   all:   every grid point (the exhaustive reference)
 *   pool:  the object's pool, prompted whole: points whose cell holds at least
 *          one object pixel, grown by `margin` cells in each direction. SAM
 *          masks from points far from an object rarely cover it without
 *          covering much else, so the greedy choice is nearly always the
 *          exhaustive one (docs/benchmarks.md).
 *   fast:  the pool without margin, prompted only where no earlier mask
 *          covers a point, then climbing to the neighbours of the best
 *          points (core/cover-greedy.ts).
 */
import type {GridFrame} from '../grid/grid.js'
import type {Mask} from '../masks/mask.js'

export type CandidateMode = 'fast' | 'pool' | 'all'
export const CANDIDATE_MODES: readonly CandidateMode[] = ['fast', 'pool', 'all']

/**
 * Share of each cell's pixels that the mask sets, raster order. A pixel belongs to the cell that
 * holds its centre, so every pixel counts in exactly one cell.
 */
export function cellCoverage(mask: Mask, f: GridFrame): Float32Array {
  const set = new Float64Array(f.n * f.n)
  const all = new Float64Array(f.n * f.n)
  const {width, height, data} = mask
  // column → cell lookup once, so the scan is one pass over the pixels
  const colCell = new Int32Array(width)
  for (let x = 0; x < width; x++) colCell[x] = Math.min(f.n - 1, Math.floor(((x + 0.5) * f.n) / width))
  for (let y = 0; y < height; y++) {
    const row = Math.min(f.n - 1, Math.floor(((y + 0.5) * f.n) / height)) * f.n
    for (let x = 0; x < width; x++) {
      all[row + colCell[x]]++
      if (data[y * width + x]) set[row + colCell[x]]++
    }
  }
  return Float32Array.from(set, (v, k) => (all[k] > 0 ? v / all[k] : 0))
}

/** Raster indices of cells that contain at least one set pixel of the mask. */
export function cellsTouchedByMask(mask: Mask, f: GridFrame): Uint8Array {
  return Uint8Array.from(cellCoverage(mask, f), (c) => (c > 0 ? 1 : 0))
}

/** Grow a set of cells by `margin` cells (Chebyshev distance). */
export function dilateCells(cells: Uint8Array, n: number, margin: number): Uint8Array {
  if (margin <= 0) return cells
  const out = new Uint8Array(n * n)
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      if (!cells[j * n + i]) continue
      for (let v = Math.max(0, j - margin); v <= Math.min(n - 1, j + margin); v++) {
        for (let u = Math.max(0, i - margin); u <= Math.min(n - 1, i + margin); u++) out[v * n + u] = 1
      }
    }
  }
  return out
}

/** Raster indices of every grid point: the exhaustive candidates. */
export function allIndices(n: number): number[] {
  return Array.from({length: n * n}, (_, k) => k)
}

/** Raster indices of the object's pool: the cells it touches, grown by `margin` cells. */
export function objectPool(mask: Mask, f: GridFrame, margin: number): number[] {
  const cells = dilateCells(cellsTouchedByMask(mask, f), f.n, margin)
  const out: number[] = []
  for (let k = 0; k < f.n * f.n; k++) if (cells[k]) out.push(k)
  return out
}
