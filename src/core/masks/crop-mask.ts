/**
 * A binary mask stored only inside its bounding box, the form SAM's candidate masks take here so
 * that one costs its own area, not the image's:
 *   pixel (x, y) of the image is data[(y − y0)·w + (x − x0)] inside the box, 0 outside.
 *
 *   {x0: 10, y0: 4, w: 2, h: 1, data: [1, 1], area: 2}  sets pixels (10, 4) and (11, 4)
 */
import type {Mask} from './mask.js'

export interface CropMask {
  x0: number
  y0: number
  w: number
  h: number
  data: Uint8Array
  area: number
}

export const EMPTY_CROP: CropMask = {x0: 0, y0: 0, w: 0, h: 0, data: new Uint8Array(0), area: 0}

export function cropHas(m: CropMask, x: number, y: number): boolean {
  return x >= m.x0 && y >= m.y0 && x < m.x0 + m.w && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + (x - m.x0)] === 1
}

/** The union of crop masks as one full-size mask. */
export function cropMasksToMask(masks: readonly CropMask[], width: number, height: number): Mask {
  const data = new Uint8Array(width * height)
  for (const m of masks) {
    for (let y = 0; y < m.h; y++) {
      const src = y * m.w
      const dst = (m.y0 + y) * width + m.x0
      for (let x = 0; x < m.w; x++) data[dst + x] |= m.data[src + x]
    }
  }
  return {width, height, data}
}

/** The same mask in the smaller box (bx0, by0)–(bx1, by1), in the crop's own coordinates. */
export function tightenCrop(m: CropMask, bx0: number, by0: number, bx1: number, by1: number): CropMask {
  const w = bx1 - bx0 + 1
  const h = by1 - by0 + 1
  if (w === m.w && h === m.h) return m
  const data = new Uint8Array(w * h)
  for (let y = 0; y < h; y++) data.set(m.data.subarray((y + by0) * m.w + bx0, (y + by0) * m.w + bx0 + w), y * w)
  return {x0: m.x0 + bx0, y0: m.y0 + by0, w, h, data, area: m.area}
}
