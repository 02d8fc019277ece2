/**
 * Exact Euclidean distance transforms in linear time (Felzenszwalb &
 * Huttenlocher, "Distance Transforms of Sampled Functions", 2012): the 1D
 * squared transform is the lower envelope of parabolas rooted at the feature
 * pixels; running it down every column and then along every row gives the
 * exact 2D squared distance.
 *
 * Distances run between pixel centres, in pixels, optionally weighted per
 * axis (wx, wy): d² = (wx·Δx)² + (wy·Δy)². With wx = n/W and wy = n/H a
 * distance is measured in grid cells.
 *
 *   mask (1 = G)      distanceInside       distanceToMask
 *   0 0 0 0 0         0 0 0 0 0            2 1 1 1 2        (√2 shown as 2:
 *   0 1 1 1 0         0 1 1 1 0            1 0 0 0 1         diagonal)
 *   0 0 0 0 0         0 0 0 0 0            2 1 1 1 2
 *
 * Border convention (ours): the image border is NOT background. Only real
 * background pixels count as "outside", so an object cut by the image edge
 * stays deep there (as scipy's distance_transform_edt and OpenCV treat it).
 * A mask that fills the whole image has infinite depth.
 */
import {type Mask, maskToBoxXywh} from './mask.js'

/**
 * 1D squared distance transform of f (Infinity = no feature) with weight w,
 * over `length` samples at f[start + k·stride], written to out at the same places.
 * Scratch arrays v (root positions) and z (envelope boundaries) are passed in.
 */
function transform1d(
  f: Float64Array,
  out: Float64Array,
  start: number,
  stride: number,
  length: number,
  w2: number,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = -1
  for (let q = 0; q < length; q++) {
    const fq = f[start + q * stride]
    if (fq === Infinity) continue
    // pop parabolas hidden by the one rooted at q
    while (k >= 0) {
      const p = v[k]
      const s = (fq + w2 * q * q - (f[start + p * stride] + w2 * p * p)) / (2 * w2 * (q - p))
      if (s > z[k]) {
        z[k + 1] = s
        break
      }
      k--
    }
    if (k < 0) z[0] = -Infinity
    v[++k] = q
    z[k + 1] = Infinity
  }
  if (k < 0) {
    for (let q = 0; q < length; q++) out[start + q * stride] = Infinity
    return
  }
  let e = 0
  for (let q = 0; q < length; q++) {
    while (z[e + 1] < q) e++
    const p = v[e]
    out[start + q * stride] = w2 * (q - p) * (q - p) + f[start + p * stride]
  }
}

/**
 * Squared distance from every pixel to the nearest feature pixel
 * (isFeature[y·width + x] = 1), weighted per axis; Infinity when there is none.
 * Values are exact for integer weights (sums of integer squares).
 */
export function squaredDistanceToFeatures(isFeature: Uint8Array, width: number, height: number, wx = 1, wy = 1): Float64Array {
  if (isFeature.length !== width * height) throw new Error(`feature map has ${isFeature.length} pixels, expected ${width}×${height}`)
  const f = new Float64Array(width * height)
  for (let k = 0; k < f.length; k++) f[k] = isFeature[k] ? 0 : Infinity
  const cols = new Float64Array(width * height)
  const longest = Math.max(width, height)
  const v = new Int32Array(longest)
  const z = new Float64Array(longest + 1)
  for (let x = 0; x < width; x++) transform1d(f, cols, x, width, height, wy * wy, v, z)
  const out = new Float64Array(width * height)
  for (let y = 0; y < height; y++) transform1d(cols, out, y * width, 1, width, wx * wx, v, z)
  return out
}

/** Squared depth of each pixel of the mask: distance to the nearest background pixel (0 outside the mask). */
export function squaredDistanceInside(mask: Mask): Float64Array {
  const background = new Uint8Array(mask.data.length)
  for (let k = 0; k < background.length; k++) background[k] = mask.data[k] ? 0 : 1
  return squaredDistanceToFeatures(background, mask.width, mask.height)
}

/** Depth of each pixel of the mask in pixels: distance to the nearest background pixel (0 outside the mask). */
export function distanceInside(mask: Mask): Float32Array {
  return Float32Array.from(squaredDistanceInside(mask), Math.sqrt)
}

/** Distance of each pixel to the nearest mask pixel (0 on the mask), per-axis weighted; Infinity for an empty mask. */
export function distanceToMask(mask: Mask, wx = 1, wy = 1): Float32Array {
  return Float32Array.from(squaredDistanceToFeatures(mask.data, mask.width, mask.height, wx, wy), Math.sqrt)
}

/** Depth of a mask's pixels inside a window of the image; 0 outside the window. */
export interface DepthWindow {
  x0: number
  y0: number
  w: number
  h: number
  /** depth at (x0 + u, y0 + v) is data[v·w + u] */
  data: Float32Array
}

/**
 * distanceInside computed over the mask's bounding box grown by one pixel only: the same values
 * (every pixel beyond the box is background, and the ring holds the nearest of them, or the
 * image border that does not count), at a cost that follows the object's size, not the image's.
 */
export function distanceInsideWindow(mask: Mask): DepthWindow {
  const box = maskToBoxXywh(mask)
  if (!box) return {x0: 0, y0: 0, w: 0, h: 0, data: new Float32Array(0)}
  const x0 = Math.max(0, box[0] - 1)
  const y0 = Math.max(0, box[1] - 1)
  const w = Math.min(mask.width, box[0] + box[2] + 1) - x0
  const h = Math.min(mask.height, box[1] + box[3] + 1) - y0
  const crop = new Uint8Array(w * h)
  for (let v = 0; v < h; v++) crop.set(mask.data.subarray((y0 + v) * mask.width + x0, (y0 + v) * mask.width + x0 + w), v * w)
  return {x0, y0, w, h, data: distanceInside({width: w, height: h, data: crop})}
}

/** The depth a window gives a pixel of the image. */
export function depthAt(d: DepthWindow, x: number, y: number): number {
  const u = x - d.x0
  const v = y - d.y0
  return u >= 0 && v >= 0 && u < d.w && v < d.h ? d.data[v * d.w + u] : 0
}
