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
  const L = SAM_LOW_RES
  // low-res cells with a positive logit; bilinear output can only be > 0 next to one of them
  let lx0 = L,
    ly0 = L,
    lx1 = -1,
    ly1 = -1
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
  if (lx1 < 0) return EMPTY_CROP
  // image pixel ranges whose sample coordinate falls within one low-res cell of that box
  const toPix = (c: number, size: number, resized: number) => (((c + 0.5) * 4 - 0.5 + 0.5) * size) / resized - 0.5
  const px0 = Math.max(0, Math.floor(toPix(lx0 - 1, f.width, f.resizedWidth)))
  const px1 = Math.min(f.width - 1, Math.ceil(toPix(lx1 + 1, f.width, f.resizedWidth)))
  const py0 = Math.max(0, Math.floor(toPix(ly0 - 1, f.height, f.resizedHeight)))
  const py1 = Math.min(f.height - 1, Math.ceil(toPix(ly1 + 1, f.height, f.resizedHeight)))
  if (px1 < px0 || py1 < py0) return EMPTY_CROP

  const w = px1 - px0 + 1
  const h = py1 - py0 + 1
  // per-column interpolation indices and weights, computed once
  const cx0 = new Int32Array(w),
    cx1 = new Int32Array(w),
    cwx = new Float32Array(w)
  for (let x = 0; x < w; x++) {
    const s = Math.min(L - 1, Math.max(0, lowResCoord(px0 + x, f.width, f.resizedWidth)))
    const a = Math.floor(s)
    cx0[x] = a
    cx1[x] = Math.min(L - 1, a + 1)
    cwx[x] = s - a
  }
  // per-row interpolation rows and weights
  const ry0 = new Int32Array(h),
    ry1 = new Int32Array(h),
    rwy = new Float64Array(h)
  for (let y = 0; y < h; y++) {
    const t = Math.min(L - 1, Math.max(0, lowResCoord(py0 + y, f.height, f.resizedHeight)))
    ry0[y] = Math.floor(t)
    ry1[y] = Math.min(L - 1, ry0[y] + 1)
    rwy[y] = t - ry0[y]
  }
  // The horizontal pass once per low-res row the crop reads (each serves two or three image rows),
  // kept in doubles: every pixel gets the very value of a bilinear sample computed on its own.
  const first = ry0[0]
  const across = new Float64Array((ry1[h - 1] - first + 1) * w)
  for (let v = first; v <= ry1[h - 1]; v++) {
    const r = offset + v * L
    const out = (v - first) * w
    for (let x = 0; x < w; x++) across[out + x] = logits[r + cx0[x]] * (1 - cwx[x]) + logits[r + cx1[x]] * cwx[x]
  }
  const data = new Uint8Array(w * h)
  let area = 0
  let bx0 = w,
    by0 = h,
    bx1 = -1,
    by1 = -1
  for (let y = 0; y < h; y++) {
    const wy = rwy[y]
    const r0 = (ry0[y] - first) * w
    const r1 = (ry1[y] - first) * w
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
