/**
 * COCO polygons → masks, rasterised exactly as pycocotools does
 * (maskApi.c rleFrPoly), so pixel areas agree with COCO's `area` field.
 *
 * A polygon part is a flat list [x1, y1, x2, y2, ...] in continuous pixel
 * coordinates (pixel k spans [k, k+1)), at least 3 points, implicitly closed.
 * An object may have several parts; they are OR-ed.
 *
 *   polygonsToMask([[2, 3, 7, 3, 7, 9, 2, 9]], 12, 10)
 *     → columns x = 2..6, rows y = 3..8 set: area 5 · 6 = 30
 *
 * rleFrPoly in three steps: (1) scale the vertices by 5 and walk every edge
 * with a DDA, one point per upsampled pixel step; (2) keep the points where
 * the path crosses from one upsampled column to the next at a pixel-column
 * centre, giving (column, row boundary) pairs; (3) each pair toggles the mask
 * at column-major position x·h + y, so sorting the positions and taking
 * differences gives the column-major RLE directly.
 */
import {showValue} from '../errors.js'
import type {Mask} from './mask.js'
import {type Rle, rleToMask, rleUnion} from './rle.js'

const SCALE = 5
/** Coordinates beyond this are rejected: they cannot be real image positions and would make the edge walk huge. */
const MAX_ABS_COORD = 1e6
/**
 * Longest outline rasterised, in pixels along the edges' major axes (the walk takes ×5 steps, 8 bytes
 * each): hostile input cannot take gigabytes.
 */
const MAX_OUTLINE = 2e6

/** Throws an Error naming the problem when a part is not a valid COCO polygon. */
export function checkPolygon(poly: unknown, part = 0): asserts poly is number[] {
  if (!Array.isArray(poly)) throw new Error(`polygon part ${part} is not a list of numbers`)
  if (poly.length % 2 !== 0) throw new Error(`polygon part ${part} has an odd number of coordinates (${poly.length})`)
  if (poly.length < 6) throw new Error(`polygon part ${part} has ${poly.length / 2} points, at least 3 needed`)
  for (let k = 0; k < poly.length; k++) {
    const v = poly[k]
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new Error(`polygon part ${part} coordinate ${k} is not a finite number: ${showValue(v)}`)
    }
    if (Math.abs(v) > MAX_ABS_COORD) throw new Error(`polygon part ${part} coordinate ${k} is out of range: ${v}`)
  }
  const outline = outlineLength(poly as number[])
  if (outline > MAX_OUTLINE)
    throw new Error(`polygon part ${part} is too long to rasterise: its edges span ${Math.round(outline)} pixels, at most ${MAX_OUTLINE}`)
}

/** Sum over the closed outline's edges of max(|dx|, |dy|): what the rasteriser walks, over 5. */
function outlineLength(poly: readonly number[]): number {
  const k = poly.length / 2
  let total = 0
  for (let j = 0; j < k; j++) {
    const l = (j + 1) % k
    total += Math.max(Math.abs(poly[2 * l] - poly[2 * j]), Math.abs(poly[2 * l + 1] - poly[2 * j + 1]))
  }
  return total
}

/** Union of the parts' masks, as pycocotools' frPyObjects + merge. Throws on any invalid part. */
export function polygonsToMask(polys: readonly unknown[], height: number, width: number): Mask {
  return rleToMask(polygonsToRle(polys, height, width))
}

/** Union of the parts as one column-major RLE. Throws on any invalid part. */
export function polygonsToRle(polys: readonly unknown[], height: number, width: number): Rle {
  if (polys.length === 0) throw new Error('polygon list is empty')
  polys.forEach((p, part) => checkPolygon(p, part))
  return rleUnion((polys as number[][]).map((poly) => polygonToRle(poly, height, width)))
}

/** One polygon part → column-major RLE (maskApi.c rleFrPoly). `poly` must pass checkPolygon. */
export function polygonToRle(poly: readonly number[], height: number, width: number): Rle {
  const path = walkUpsampledEdges(poly)
  const crossings = columnCrossings(path, height, width)
  return {height, width, counts: crossingsToCounts(crossings, height, width)}
}

/** Shoelace area of one part in square pixels (geometric, not rasterised). */
export function polygonShoelaceArea(poly: readonly number[]): number {
  const n = poly.length / 2
  let twice = 0
  for (let k = 0; k < n; k++) {
    const l = (k + 1) % n
    twice += poly[2 * k] * poly[2 * l + 1] - poly[2 * l] * poly[2 * k + 1]
  }
  return Math.abs(twice) / 2
}

interface UpsampledPath {
  u: Int32Array // x, upsampled
  v: Int32Array // y, upsampled
}

/** Step 1: vertices ×5 (rounded as C's (int)(x+.5)), then every edge walked along its major axis. */
function walkUpsampledEdges(poly: readonly number[]): UpsampledPath {
  const k = poly.length / 2
  const x = new Int32Array(k + 1)
  const y = new Int32Array(k + 1)
  for (let j = 0; j < k; j++) {
    x[j] = Math.trunc(SCALE * poly[2 * j] + 0.5)
    y[j] = Math.trunc(SCALE * poly[2 * j + 1] + 0.5)
  }
  x[k] = x[0]
  y[k] = y[0]
  let m = 0
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1
  const u = new Int32Array(m)
  const v = new Int32Array(m)
  m = 0
  for (let j = 0; j < k; j++) {
    let [xs, xe, ys, ye] = [x[j], x[j + 1], y[j], y[j + 1]]
    const dx = Math.abs(xe - xs)
    const dy = Math.abs(ys - ye)
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
    if (flip) [xs, xe, ys, ye] = [xe, xs, ye, ys]
    // 0/0 gives NaN for a repeated vertex; that single point never lies on a column change, so it is never read.
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++, m++) {
        const t = flip ? dx - d : d
        u[m] = t + xs
        v[m] = Math.trunc(ys + s * t + 0.5)
      }
    } else {
      for (let d = 0; d <= dy; d++, m++) {
        const t = flip ? dy - d : d
        v[m] = t + ys
        u[m] = Math.trunc(xs + s * t + 0.5)
      }
    }
  }
  return {u, v}
}

/** Step 2: where the path changes upsampled column at a pixel-column centre → (column x, row boundary y in [0, h]). */
function columnCrossings({u, v}: UpsampledPath, height: number, width: number): Float64Array {
  const positions: number[] = []
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1
    xd = (xd + 0.5) / SCALE - 0.5
    if (Math.floor(xd) !== xd || xd < 0 || xd > width - 1) continue
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1]
    yd = (yd + 0.5) / SCALE - 0.5
    yd = Math.ceil(yd < 0 ? 0 : yd > height ? height : yd)
    positions.push(xd * height + yd) // column-major position of the toggle
  }
  return Float64Array.from(positions)
}

/** Step 3: sorted toggle positions → run lengths; zero-length runs merge their neighbours. */
function crossingsToCounts(positions: Float64Array, height: number, width: number): number[] {
  const a = new Float64Array(positions.length + 1)
  a.set(positions)
  a[positions.length] = height * width
  a.sort()
  let previous = 0
  for (let j = 0; j < a.length; j++) {
    const t = a[j]
    a[j] -= previous
    previous = t
  }
  const counts = [a[0]]
  for (let j = 1; j < a.length;) {
    if (a[j] > 0) counts.push(a[j++])
    else if (++j < a.length) counts[counts.length - 1] += a[j++]
  }
  return counts
}
