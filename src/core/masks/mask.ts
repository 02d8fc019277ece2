/**
 * Binary masks: row-major Uint8Array, one byte per pixel (0 or 1),
 * `data[y * width + x]`. COCO RLE is column-major; conversion happens in rle.ts.
 */
export interface Mask {
  width: number
  height: number
  data: Uint8Array
}

export function maskArea(mask: Mask): number {
  let area = 0
  const d = mask.data
  for (let k = 0; k < d.length; k++) area += d[k]
  return area
}

function assertSameSize(a: Mask, b: Mask): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`mask sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`)
  }
}

/** Intersection over union; two empty masks give 0. */
export function maskIou(a: Mask, b: Mask): number {
  assertSameSize(a, b)
  let inter = 0
  let union = 0
  const x = a.data
  const y = b.data
  for (let k = 0; k < x.length; k++) {
    inter += x[k] & y[k]
    union += x[k] | y[k]
  }
  return union === 0 ? 0 : inter / union
}

/** In-place union: target |= source. */
export function unionInto(target: Mask, source: Mask): void {
  assertSameSize(target, source)
  const t = target.data
  const s = source.data
  for (let k = 0; k < t.length; k++) t[k] |= s[k]
}

/** Tight box of the set pixels as [x, y, w, h] in pixels, COCO style; null when empty. */
export function maskToBoxXywh(mask: Mask): [number, number, number, number] | null {
  const {width, height, data} = mask
  let x0 = width
  let y0 = height
  let x1 = -1
  let y1 = -1
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width; x++) {
      if (data[row + x]) {
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (y < y0) y0 = y
        if (y > y1) y1 = y
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
}
