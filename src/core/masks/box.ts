/**
 * Boxes in image pixels, two conventions carried in their names:
 *   Box      {x0, y0, w, h}: the pixels x0 … x0+w−1, y0 … y0+h−1 (a crop's or a mask's extent)
 *   BoxXywh  [x, y, w, h]:   COCO's box in continuous coordinates, as in a `bbox` field
 *
 *   maskBox(mask with pixels set at (3, 4) and (5, 4))  →  {x0: 3, y0: 4, w: 3, h: 1}
 */
import {type Mask, maskToBoxXywh} from './mask.js'

export interface Box {
  x0: number
  y0: number
  w: number
  h: number
}

export type BoxXywh = [x: number, y: number, w: number, h: number]

export function boxesMeet(a: Box, b: Box): boolean {
  return a.x0 < b.x0 + b.w && b.x0 < a.x0 + a.w && a.y0 < b.y0 + b.h && b.y0 < a.y0 + a.h
}

/** The box of a full-size mask's set pixels (empty when none is set). */
export function maskBox(m: Mask): Box {
  const [x0, y0, w, h] = maskToBoxXywh(m) ?? [0, 0, 0, 0]
  return {x0, y0, w, h}
}

/** The smallest box holding both (an empty first box gives the second). */
export function boxUnion(a: Box, b: Box): Box {
  if (a.w === 0 || a.h === 0) return b
  const x0 = Math.min(a.x0, b.x0)
  const y0 = Math.min(a.y0, b.y0)
  return {x0, y0, w: Math.max(a.x0 + a.w, b.x0 + b.w) - x0, h: Math.max(a.y0 + a.h, b.y0 + b.h) - y0}
}

/** IoU of two COCO boxes [x, y, w, h] (continuous coordinates); 0 when both are empty. */
export function boxXywhIou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]))
  const ih = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]))
  const inter = iw * ih
  const union = a[2] * a[3] + b[2] * b[3] - inter
  return union > 0 ? inter / union : 0
}
