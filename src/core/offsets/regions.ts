/**
 * The offset-supervision classifier (SPEC §5): every grid point of an object
 * gets one region and one target, by this ordered rule, with G the
 * ground-truth mask and the nine landing points c + (du·W/2n, dv·H/2n):
 *
 *   inside       the anchor is in G                                → [0, 0]
 *   ring         some non-zero move lands in G                      → the move landing deepest in G
 *   hard_delete  no move lands in G, anchor within hardBand cells   → 'delete'
 *   far          everything else                                    → 'delete'
 *
 * Conventions (ours, see docs/offsets.md):
 * - "point in G": the pixel that holds the continuous point, pixel k spanning
 *   [k, k+1): (floor x, floor y). A point outside [0, W) × [0, H) is not in G,
 *   so the landing point x = W of the last column is outside the image.
 * - depth: the exact Euclidean distance (pixels, pixel centres) from the
 *   landing pixel to the nearest background pixel; the image border is not
 *   background (distance.ts). Ties go to the axis moves first, then the
 *   diagonals, each in MOVES order (TieOrder; plain MOVES order on request).
 * - band: the distance from the anchor's pixel to the nearest pixel of G,
 *   measured in cells (x scaled by n/W, y by n/H), at most hardBand.
 *
 *   G = pixels [22, 42)² of a 64×64 image, n = 8 (cell 8 px, step 4 px), band 2:
 *     . . . . . . . .       I inside   [0, 0]
 *     . H H H H H H .       R ring     e.g. row 2: [1,1] [0,1] [0,1] [-1,1]
 *     . H R R R R H .       H hard     <DELETE>
 *     . H R I I R H .       . far      <DELETE>
 *     . H R I I R H .
 *     . H R R R R H .
 *     . H H H H H H .
 *     . . . . . . . .
 */
import {squaredDistanceInside, squaredDistanceToFeatures} from '../masks/distance.js'
import {type Cell, type GridFrame, type Move, MOVES, landingPoint, pointToNearestCell} from '../grid/grid.js'
import type {Mask} from '../masks/mask.js'
import type {OffsetTarget} from '../grid/tokens.js'

export type Region = 'inside' | 'ring' | 'hard_delete' | 'far'
/** Region names in sampling priority order. */
export const REGIONS: readonly Region[] = ['ring', 'inside', 'hard_delete', 'far']
export const DEFAULT_HARD_BAND = 2

/**
 * Order in which equally good moves are tried, the first winning (ring depth,
 * box-corner distance): the zero move, then
 *   axis-first (default): the four axis moves, then the four diagonals, each in MOVES order;
 *   moves: plain MOVES order (row by row, so up-diagonals beat axis moves).
 */
export type TieOrder = 'axis-first' | 'moves'
export const TIE_ORDERS: readonly TieOrder[] = ['axis-first', 'moves']

const isAxis = ([du, dv]: Move) => (du === 0) !== (dv === 0)
const isDiagonal = ([du, dv]: Move) => du !== 0 && dv !== 0
const MOVES_BY_TIE_ORDER: Record<TieOrder, readonly Move[]> = {
  'axis-first': [[0, 0], ...MOVES.filter(isAxis), ...MOVES.filter(isDiagonal)],
  moves: MOVES,
}
/** The same without the zero move, for ring points. */
const RING_MOVES: Record<TieOrder, readonly Move[]> = {
  'axis-first': MOVES_BY_TIE_ORDER['axis-first'].slice(1),
  moves: MOVES.slice(1),
}

export interface RegionOptions {
  /** band around G for hard deletes, in cells (≥ 0) */
  hardBand: number
  /** dv = +1 moves up instead of down */
  flipV: boolean
  ties: TieOrder
}

/** One entry per grid point, indexed by raster index j·n + i. */
export interface GridRegions {
  n: number
  regions: Region[]
  targets: OffsetTarget[]
}

export type RegionCounts = Record<Region, number>

/** A window of a full-size map: value(x, y) = data[(y − y0)·w + (x − x0)]. */
interface Window<T> {
  x0: number
  y0: number
  w: number
  h: number
  data: T
}

/** Classify every grid point of the frame against mask G. */
export function classifyGrid(mask: Mask, frame: GridFrame, options: RegionOptions): GridRegions {
  assertFrame(mask, frame)
  if (!(options.hardBand >= 0)) throw new Error(`hard band must be a number ≥ 0, got ${options.hardBand}`)
  const {n} = frame
  const regions: Region[] = new Array(n * n).fill('far')
  const targets: OffsetTarget[] = new Array(n * n).fill('delete')
  const maps = distanceMaps(mask, frame, options.hardBand)
  if (!maps) return {n, regions, targets}
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      const [region, target] = classifyPoint(i, j, mask, frame, options, maps)
      regions[j * n + i] = region
      targets[j * n + i] = target
    }
  }
  return {n, regions, targets}
}

interface DistanceMaps {
  /** squared depth in pixels of each pixel of G */
  depth2: Window<Float64Array>
  /**
   * squared distance to the nearest pixel of G, (H·Δx)² + (W·Δy)²: the
   * distance in cells times W·H/n, squared. An exact integer, so a point
   * exactly on the band's edge is decided exactly.
   */
  gap2: Window<Float64Array>
  /** the band edge in gap2's units: (hardBand·W·H/n)² */
  band2: number
}

function classifyPoint(i: number, j: number, mask: Mask, f: GridFrame, o: RegionOptions, maps: DistanceMaps): [Region, OffsetTarget] {
  const anchor = landingPixel(i, j, [0, 0], f, o.flipV)!
  if (inMask(mask, anchor)) return ['inside', [0, 0]]
  let best: Move | null = null
  let bestDepth2 = -1
  for (const move of RING_MOVES[o.ties]) {
    const p = landingPixel(i, j, move, f, o.flipV)
    if (!p || !inMask(mask, p)) continue
    const d2 = windowAt(maps.depth2, p)
    if (d2 > bestDepth2) {
      best = move
      bestDepth2 = d2
    }
  }
  if (best) return ['ring', [best[0], best[1]]]
  return [windowAt(maps.gap2, anchor) <= maps.band2 ? 'hard_delete' : 'far', 'delete']
}

/**
 * The pixel [x, y] holding the landing point of a move from grid point (i, j),
 * or null when it falls outside the image. Computed as one exact rational,
 * x = (2i + 1 + du)·W / 2n, so floor() never suffers from rounding.
 */
export function landingPixel(i: number, j: number, [du, dv]: Move, f: GridFrame, flipV = false): [number, number] | null {
  const x = Math.floor(((2 * i + 1 + du) * f.width) / (2 * f.n))
  const y = Math.floor(((2 * j + 1 + (flipV ? -dv : dv)) * f.height) / (2 * f.n))
  return x >= 0 && y >= 0 && x < f.width && y < f.height ? [x, y] : null
}

function inMask(mask: Mask, [x, y]: [number, number]): boolean {
  return mask.data[y * mask.width + x] === 1
}

function windowAt(win: Window<Float64Array>, [x, y]: [number, number]): number {
  const u = x - win.x0
  const v = y - win.y0
  return u >= 0 && v >= 0 && u < win.w && v < win.h ? win.data[v * win.w + u] : Infinity
}

/**
 * Both distance maps on one window: G's tight box grown by the band (plus a
 * pixel), clipped to the image. Exact there: the grown box holds G and, where
 * the image allows, a ring of background around it, so no nearer background
 * or G pixel lies outside; anchors outside it are farther than the band.
 * Null for an empty mask.
 */
function distanceMaps(mask: Mask, f: GridFrame, hardBand: number): DistanceMaps | null {
  const box = tightBox(mask)
  if (!box) return null
  const mx = Math.ceil((hardBand * f.width) / f.n) + 1
  const my = Math.ceil((hardBand * f.height) / f.n) + 1
  const x0 = Math.max(0, box[0] - mx)
  const y0 = Math.max(0, box[1] - my)
  const w = Math.min(mask.width, box[2] + 1 + mx) - x0
  const h = Math.min(mask.height, box[3] + 1 + my) - y0
  const crop = cropMask(mask, x0, y0, w, h)
  return {
    depth2: {x0, y0, w, h, data: squaredDistanceInside(crop)},
    gap2: {x0, y0, w, h, data: squaredDistanceToFeatures(crop.data, w, h, f.height, f.width)},
    band2: ((hardBand * f.width * f.height) / f.n) ** 2,
  }
}

/** [x0, y0, x1, y1] of the set pixels, inclusive; null when empty. */
function tightBox(mask: Mask): [number, number, number, number] | null {
  let x0 = mask.width
  let y0 = mask.height
  let x1 = -1
  let y1 = -1
  for (let y = 0; y < mask.height; y++) {
    const row = y * mask.width
    for (let x = 0; x < mask.width; x++) {
      if (!mask.data[row + x]) continue
      if (x < x0) x0 = x
      if (x > x1) x1 = x
      y0 = Math.min(y0, y)
      y1 = y
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1]
}

function cropMask(mask: Mask, x0: number, y0: number, w: number, h: number): Mask {
  const data = new Uint8Array(w * h)
  for (let y = 0; y < h; y++) data.set(mask.data.subarray((y0 + y) * mask.width + x0, (y0 + y) * mask.width + x0 + w), y * w)
  return {width: w, height: h, data}
}

function assertFrame(mask: Mask, f: GridFrame): void {
  if (mask.width !== f.width || mask.height !== f.height) {
    throw new Error(`mask is ${mask.width}×${mask.height} but the grid frame is ${f.width}×${f.height}`)
  }
}

export function countRegions(regions: readonly Region[]): RegionCounts {
  const counts: RegionCounts = {inside: 0, ring: 0, hard_delete: 0, far: 0}
  for (const r of regions) counts[r]++
  return counts
}

// ---- boxes -----------------------------------------------------------------

export interface BoxCornerTarget {
  /** the corner's grid point: the anchor nearest the true corner (SPEC §2) */
  cell: Cell
  /** the move whose landing point is nearest the true corner; ties by TieOrder */
  move: Move
}

/** Top-left and bottom-right corners of a COCO box [x, y, w, h] in pixels, each with its refining move. */
export function boxCornerTargets(
  bboxXywh: readonly number[],
  f: GridFrame,
  o: Pick<RegionOptions, 'flipV' | 'ties'>,
): [BoxCornerTarget, BoxCornerTarget] {
  const [x, y, w, h] = bboxXywh
  return [cornerTarget(x, y, f, o), cornerTarget(x + w, y + h, f, o)]
}

function cornerTarget(x: number, y: number, f: GridFrame, o: Pick<RegionOptions, 'flipV' | 'ties'>): BoxCornerTarget {
  const cell = pointToNearestCell(x, y, f)
  let move: Move = [0, 0]
  let best = Infinity
  for (const m of MOVES_BY_TIE_ORDER[o.ties]) {
    const [lx, ly] = landingPoint(cell[0], cell[1], m, f, o.flipV)
    const d2 = (lx - x) ** 2 + (ly - y) ** 2
    if (d2 < best) {
      best = d2
      move = [m[0], m[1]]
    }
  }
  return {cell, move}
}
