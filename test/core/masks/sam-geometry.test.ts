import {describe, expect, it} from 'vitest'
import {imageToSamCoords, lowResLogitsToCropMask, samFrame} from '../../../src/core/masks/sam-geometry.js'

/** Naive reference: sample every image pixel, no bounding-box shortcut. */
function naiveMask(logits: Float32Array, W: number, H: number, rw: number, rh: number): Uint8Array {
  const L = 256
  const coord = (p: number, size: number, resized: number) =>
    Math.min(L - 1, Math.max(0, (((p + 0.5) * resized) / size - 0.5 + 0.5) / 4 - 0.5))
  const out = new Uint8Array(W * H)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = coord(x, W, rw)
      const sy = coord(y, H, rh)
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy)
      const x1 = Math.min(L - 1, x0 + 1),
        y1 = Math.min(L - 1, y0 + 1)
      const ax = sx - x0,
        ay = sy - y0
      const v =
        (logits[y0 * L + x0] * (1 - ax) + logits[y0 * L + x1] * ax) * (1 - ay) +
        (logits[y1 * L + x0] * (1 - ax) + logits[y1 * L + x1] * ax) * ay
      out[y * W + x] = v > 0 ? 1 : 0
    }
  }
  return out
}

describe('SAM frame', () => {
  it('resizes the longest side to 1024 with SAM rounding', () => {
    expect(samFrame(640, 480)).toMatchObject({resizedWidth: 1024, resizedHeight: 768})
    expect(samFrame(427, 640)).toMatchObject({resizedWidth: 683, resizedHeight: 1024})
    expect(samFrame(500, 333)).toMatchObject({resizedWidth: 1024, resizedHeight: 682})
    expect(imageToSamCoords(320, 240, samFrame(640, 480))).toEqual([512, 384])
  })
})

describe('lowResLogitsToCropMask', () => {
  it.each([
    [640, 480],
    [427, 640],
    [37, 1000],
  ])('equals a naive full-image threshold for %ix%i', (W, H) => {
    const f = samFrame(W, H)
    const logits = new Float32Array(2 * 256 * 256).fill(-5)
    // two blobs in the second mask slot, one touching the low-res border
    for (let v = 0; v < 256; v++) {
      for (let u = 0; u < 256; u++) {
        const a = 30 - Math.hypot(u - 80, v - 100)
        const b = 12 - Math.hypot(u - 3, v - 200)
        logits[65536 + v * 256 + u] = Math.max(a, b, -5)
      }
    }
    const crop = lowResLogitsToCropMask(logits, 65536, f)
    const ref = naiveMask(logits.subarray(65536), W, H, f.resizedWidth, f.resizedHeight)
    let refArea = 0
    let mismatches = 0
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inCrop =
          x >= crop.x0 && x < crop.x0 + crop.w && y >= crop.y0 && y < crop.y0 + crop.h ? crop.data[(y - crop.y0) * crop.w + x - crop.x0] : 0
        if (inCrop !== ref[y * W + x]) mismatches++
        refArea += ref[y * W + x]
      }
    }
    expect(mismatches).toBe(0)
    expect(crop.area).toBe(refArea)
    expect(refArea).toBeGreaterThan(0)
  })

  it('returns an empty mask when no logit is positive', () => {
    expect(lowResLogitsToCropMask(new Float32Array(65536).fill(-1), 0, samFrame(640, 480)).area).toBe(0)
  })
})
