/**
 * SAM's input geometry and mask post-processing, as pure functions.
 *
 * SAM resizes the longest image side to 1024 (shorter side rounded half up),
 * pads bottom and right to 1024×1024, and predicts 256×256 low-resolution
 * logits over that padded square. A point (x, y) in image pixels goes to
 * (x·rw/W, y·rh/H) in the 1024 frame, where rw×rh is the resized size.
 *
 * To get a mask at image resolution SAM upsamples the logits to 1024, crops the
 * resized area and resizes again to W×H, thresholding at 0. We fold the two
 * bilinear steps into one sample per output pixel at the composed coordinate
 * (same result up to interpolation of interpolation), and only inside the box
 * where the logits can be positive, so a candidate mask costs its own area.
 */
import {type CropMask, EMPTY_CROP, tightenCrop} from './crop-mask.js'

export const SAM_INPUT = 1024
export const SAM_LOW_RES = 256

export interface SamFrame {
  width: number
  height: number
  /** resized size inside the 1024 square */
  resizedWidth: number
  resizedHeight: number
}

export function samFrame(width: number, height: number, longSide = SAM_INPUT): SamFrame {
  const scale = longSide / Math.max(width, height)
  return {
    width,
    height,
    resizedWidth: Math.floor(width * scale + 0.5),
    resizedHeight: Math.floor(height * scale + 0.5),
  }
}

/** Image pixel coordinates to SAM's 1024 input frame. */
export function imageToSamCoords(x: number, y: number, f: SamFrame): [number, number] {
  return [(x * f.resizedWidth) / f.width, (y * f.resizedHeight) / f.height]
}

/** Bilinear sample coordinate in the 256 grid for image pixel centre p along one axis. */
function lowResCoord(p: number, size: number, resized: number): number {
  const in1024 = ((p + 0.5) * resized) / size - 0.5
  return (in1024 + 0.5) / 4 - 0.5
}

/**
 * Threshold SAM's low-res logits (256×256, row-major, starting at `offset`)
 * at image resolution. Returns the mask cropped to its bounding box.
 */
export function lowResLogitsToCropMask(logits: Float32Array, offset: number, f: SamFrame): CropMask {
  // low-res cells with a positive logit; bilinear output can only be > 0 next to one of them
  const box = positiveCells(logits, offset)
  if (!box) return EMPTY_CROP
  const [lx0, ly0, lx1, ly1] = box
  // image pixel ranges whose sample coordinate falls within one low-res cell of that box
  const toPix = (c: number, size: number, resized: number) => (((c + 0.5) * 4 - 0.5 + 0.5) * size) / resized - 0.5
  const px0 = Math.max(0, Math.floor(toPix(lx0 - 1, f.width, f.resizedWidth)))
  const px1 = Math.min(f.width - 1, Math.ceil(toPix(lx1 + 1, f.width, f.resizedWidth)))
  const py0 = Math.max(0, Math.floor(toPix(ly0 - 1, f.height, f.resizedHeight)))
  const py1 = Math.min(f.height - 1, Math.ceil(toPix(ly1 + 1, f.height, f.resizedHeight)))
  if (px1 < px0 || py1 < py0) return EMPTY_CROP
  // per-column and per-row interpolation taps, computed once (column weights in float32, row weights in doubles, as always)
  const cols = axisTaps(px0, px1 - px0 + 1, f.width, f.resizedWidth, Float32Array)
  const rows = axisTaps(py0, py1 - py0 + 1, f.height, f.resizedHeight, Float64Array)
  return thresholdBilinear(logits, offset, cols, rows, px0, py0)
}

/** The box [u0, v0, u1, v1] of the low-res cells with a positive logit, or null when there is none. */
function positiveCells(logits: Float32Array, offset: number): [number, number, number, number] | null {
  const L = SAM_LOW_RES
  let lx0 = L
  let ly0 = L
  let lx1 = -1
  let ly1 = -1
  for (let v = 0; v < L; v++) {
    const row = offset + v * L
    for (let u = 0; u < L; u++) {
      if (logits[row + u] > 0) {
        if (u < lx0) lx0 = u
        if (u > lx1) lx1 = u
        if (v < ly0) ly0 = v
        if (v > ly1) ly1 = v
      }
    }
  }
  return lx1 < 0 ? null : [lx0, ly0, lx1, ly1]
}

interface Taps {
  /** the two low-res samples each output pixel reads, and the weight of the second */
  i0: Int32Array
  i1: Int32Array
  w: Float32Array | Float64Array
}

function axisTaps(
  p0: number,
  count: number,
  size: number,
  resized: number,
  Weights: Float32ArrayConstructor | Float64ArrayConstructor,
): Taps {
  const L = SAM_LOW_RES
  const taps: Taps = {i0: new Int32Array(count), i1: new Int32Array(count), w: new Weights(count)}
  for (let k = 0; k < count; k++) {
    const s = Math.min(L - 1, Math.max(0, lowResCoord(p0 + k, size, resized)))
    const a = Math.floor(s)
    taps.i0[k] = a
    taps.i1[k] = Math.min(L - 1, a + 1)
    taps.w[k] = s - a
  }
  return taps
}

/** Bilinear samples > 0 inside the crop, then the crop tightened to them. */
function thresholdBilinear(logits: Float32Array, offset: number, cols: Taps, rows: Taps, px0: number, py0: number): CropMask {
  const L = SAM_LOW_RES
  const w = cols.i0.length
  const h = rows.i0.length
  // The horizontal pass once per low-res row the crop reads (each serves two or three image rows),
  // kept in doubles: every pixel gets the very value of a bilinear sample computed on its own.
  const first = rows.i0[0]
  const across = new Float64Array((rows.i1[h - 1] - first + 1) * w)
  for (let v = first; v <= rows.i1[h - 1]; v++) {
    const r = offset + v * L
    const out = (v - first) * w
    for (let x = 0; x < w; x++) across[out + x] = logits[r + cols.i0[x]] * (1 - cols.w[x]) + logits[r + cols.i1[x]] * cols.w[x]
  }
  const data = new Uint8Array(w * h)
  let area = 0
  let bx0 = w
  let by0 = h
  let bx1 = -1
  let by1 = -1
  for (let y = 0; y < h; y++) {
    const wy = rows.w[y]
    const r0 = (rows.i0[y] - first) * w
    const r1 = (rows.i1[y] - first) * w
    for (let x = 0; x < w; x++) {
      if (across[r0 + x] * (1 - wy) + across[r1 + x] * wy > 0) {
        data[y * w + x] = 1
        area++
        if (x < bx0) bx0 = x
        if (x > bx1) bx1 = x
        if (y < by0) by0 = y
        if (y > by1) by1 = y
      }
    }
  }
  if (area === 0) return EMPTY_CROP
  return tightenCrop({x0: px0, y0: py0, w, h, data, area}, bx0, by0, bx1, by1)
}
