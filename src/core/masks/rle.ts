/**
 * COCO run-length encoding (RLE), as in pycocotools' maskApi.c.
 *
 * A mask of height h and width w is read in COLUMN-MAJOR order (down the first
 * column, then down the second, ...) and written as run lengths that alternate
 * between 0s and 1s, always starting with a run of 0s (possibly empty). The
 * counts sum to h·w. Our `Mask` is row-major (data[y*width + x]); the
 * conversion happens here and nowhere else.
 *
 *   h = 2, w = 3                column-major pixels: 0 1 | 1 1 | 0 0
 *        x: 0 1 2               counts: [1, 3, 2]   (one 0, three 1s, two 0s)
 *     y = 0   0 1 0             area: 3 (sum of odd-index counts)
 *     y = 1   1 1 0
 *
 * Compressed counts (maskApi.c rleToString / rleFrString): each count from the
 * fourth on (index i > 2) is replaced by its difference to counts[i-2]; each
 * value is then written as little-endian signed 5-bit groups, one char per
 * group: bit 0x20 says "another group follows", bit 0x10 of the last group is
 * the sign, and 48 is added to make a printable char ('0'..'o').
 *
 *   [1, 3, 2]      → "132"
 *   [100]          → "T3"    100 = 4 + 3·32: (4 | 0x20) + 48 = 'T', 3 + 48 = '3'
 *   [1, 3, 10, 2]  → "13:O"  the last value is 2 − 3 = −1: 0x1f + 48 = 'O'
 *
 * API: maskToRle / rleToMask (row-major Mask ↔ column-major RLE), rleToString /
 * rleFromString (compressed counts), rleArea, rleToBoxXywh, rleUnion,
 * checkRleCounts (validation at the boundary).
 */
import type {Mask} from './mask.js'

/** Uncompressed COCO RLE: counts alternate 0-run, 1-run, ..., column-major. */
export interface Rle {
  height: number
  width: number
  counts: number[]
}

const CHAR_OFFSET = 48
/** Guard against runaway strings: 13 groups carry 65 bits, beyond any mask size. */
const MAX_GROUPS = 13

/** Row-major mask → column-major RLE (counts start with the 0-run). */
export function maskToRle(mask: Mask): Rle {
  const {width, height, data} = mask
  const counts: number[] = []
  let value = 0
  let run = 0
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const pixel = data[y * width + x]
      if (pixel !== value) {
        counts.push(run)
        run = 0
        value = pixel
      }
      run++
    }
  }
  counts.push(run)
  return {height, width, counts}
}

/** Column-major RLE → row-major mask. Throws when counts do not fit h·w. */
export function rleToMask(rle: Rle): Mask {
  const problem = checkRleCounts(rle.counts, rle.height, rle.width)
  if (problem) throw new Error(problem)
  const {height, width, counts} = rle
  const data = new Uint8Array(width * height)
  let k = 0 // column-major position
  for (let i = 0; i < counts.length; i++) {
    const end = k + counts[i]
    if (i % 2 === 1) {
      for (; k < end; k++) data[(k % height) * width + Math.floor(k / height)] = 1
    }
    k = end
  }
  return {width, height, data}
}

/** Error message when counts are not non-negative integers summing to h·w; null when fine. */
export function checkRleCounts(counts: readonly unknown[], height: number, width: number): string | null {
  let sum = 0
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
      return `RLE count ${i} must be a non-negative integer, got ${String(c)}`
    }
    sum += c
  }
  if (sum !== height * width) return `RLE counts sum to ${sum}, expected h·w = ${height}·${width} = ${height * width}`
  return null
}

/** Number of set pixels: the sum of the 1-runs (odd indices). */
export function rleArea(rle: Rle): number {
  let area = 0
  for (let i = 1; i < rle.counts.length; i += 2) area += rle.counts[i]
  return area
}

/** Tight box of the set pixels as [x, y, w, h] in pixels; null when empty. */
export function rleToBoxXywh(rle: Rle): [number, number, number, number] | null {
  const {height, counts} = rle
  let x0 = Infinity
  let x1 = -1
  let y0 = Infinity
  let y1 = -1
  let k = 0
  for (let i = 0; i < counts.length; i++) {
    const start = k
    k += counts[i]
    if (i % 2 === 0 || counts[i] === 0) continue
    const last = k - 1
    const [xs, ys] = [Math.floor(start / height), start % height]
    const [xe, ye] = [Math.floor(last / height), last % height]
    x0 = Math.min(x0, xs)
    x1 = Math.max(x1, xe)
    // A run that wraps into the next column covers the full column height.
    y0 = Math.min(y0, xe > xs ? 0 : ys)
    y1 = Math.max(y1, xe > xs ? height - 1 : ye)
  }
  return x1 < 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
}

/** Union of RLEs of one size (pycocotools rleMerge, intersect = 0), via their sorted 1-runs. */
export function rleUnion(rles: readonly Rle[]): Rle {
  if (rles.length === 0) throw new Error('rleUnion needs at least one RLE')
  const {height, width} = rles[0]
  const runs: [start: number, end: number][] = []
  for (const rle of rles) {
    if (rle.height !== height || rle.width !== width) {
      throw new Error(`RLE sizes differ: ${rle.height}x${rle.width} vs ${height}x${width} (h x w)`)
    }
    let k = 0
    rle.counts.forEach((c, i) => {
      if (i % 2 === 1 && c > 0) runs.push([k, k + c])
      k += c
    })
  }
  runs.sort((a, b) => a[0] - b[0])
  const counts: number[] = []
  let end = 0 // end of the last 1-run written
  for (const [start, stop] of runs) {
    if (counts.length > 0 && start <= end) {
      if (stop > end) counts[counts.length - 1] += stop - end
      end = Math.max(end, stop)
    } else {
      counts.push(start - end, stop - start)
      end = stop
    }
  }
  if (counts.length === 0 || end < height * width) counts.push(height * width - end)
  return {height, width, counts}
}

/** Uncompressed counts → COCO compressed string (maskApi.c rleToString). */
export function rleToString(counts: readonly number[]): string {
  let s = ''
  for (let i = 0; i < counts.length; i++) {
    let x = i > 2 ? counts[i] - counts[i - 2] : counts[i]
    let more = true
    while (more) {
      let c = x & 0x1f // low 5 bits of two's complement, also for negatives
      x = Math.floor(x / 32) // arithmetic shift right by 5, safe beyond 32 bits
      more = c & 0x10 ? x !== -1 : x !== 0
      if (more) c |= 0x20
      s += String.fromCharCode(c + CHAR_OFFSET)
    }
  }
  return s
}

/** COCO compressed string → uncompressed counts (maskApi.c rleFrString). Throws on malformed input. */
export function rleFromString(s: string): number[] {
  const counts: number[] = []
  let p = 0
  while (p < s.length) {
    let x = 0
    let k = 0
    let more = true
    while (more) {
      if (p >= s.length) throw new Error(`compressed RLE ends inside a count at char ${p}: ${JSON.stringify(clip(s))}`)
      const c = s.charCodeAt(p) - CHAR_OFFSET
      if (c < 0 || c > 63) throw new Error(`compressed RLE has invalid char ${JSON.stringify(s[p])} at ${p}; expected '0'..'o'`)
      x += (c & 0x1f) * 2 ** (5 * k)
      more = (c & 0x20) !== 0
      p++
      k++
      if (k > MAX_GROUPS) throw new Error(`compressed RLE count at char ${p} is too long (${k} groups)`)
      if (!more && c & 0x10) x -= 2 ** (5 * k) // sign-extend
    }
    const m = counts.length
    if (m > 2) x += counts[m - 2]
    if (x < 0) throw new Error(`compressed RLE decodes to negative count ${x} at index ${m}`)
    counts.push(x)
  }
  return counts
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s
}
