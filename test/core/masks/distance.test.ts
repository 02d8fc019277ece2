import {describe, expect, it} from 'vitest'
import {
  depthAt,
  distanceInside,
  distanceInsideWindow,
  distanceToMask,
  squaredDistanceInside,
  squaredDistanceToFeatures,
} from '../../../src/core/masks/distance.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import {mulberry32} from '../../../src/core/offsets/sampling.js'

/** O(N²) reference: squared weighted distance from each pixel to the nearest feature pixel. */
function bruteSquared(isFeature: Uint8Array, w: number, h: number, wx = 1, wy = 1): Float64Array {
  const out = new Float64Array(w * h).fill(Infinity)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let v = 0; v < h; v++) {
        for (let u = 0; u < w; u++) {
          if (!isFeature[v * w + u]) continue
          const d = (wx * (x - u)) ** 2 + (wy * (y - v)) ** 2
          if (d < out[y * w + x]) out[y * w + x] = d
        }
      }
    }
  }
  return out
}

function randomMask(w: number, h: number, density: number, seed: number): Mask {
  const random = mulberry32(seed)
  const data = new Uint8Array(w * h)
  for (let k = 0; k < data.length; k++) data[k] = random() < density ? 1 : 0
  return {width: w, height: h, data}
}

const invert = (d: Uint8Array) => d.map((v) => 1 - v)

describe('squaredDistanceToFeatures (Felzenszwalb–Huttenlocher)', () => {
  const cases = Array.from({length: 60}, (_, s) => ({
    w: 1 + (s % 13),
    h: 1 + ((s * 7) % 11),
    density: [0.02, 0.1, 0.5, 0.9][s % 4],
    seed: s,
  }))
  it.each(cases)('equals brute force on a random $w×$h mask (density $density)', ({w, h, density, seed}) => {
    const m = randomMask(w, h, density, seed)
    expect(Array.from(squaredDistanceToFeatures(m.data, w, h))).toEqual(Array.from(bruteSquared(m.data, w, h)))
  })

  it.each([
    [0.5, 2],
    [32 / 640, 32 / 480],
    [3, 0.25],
  ])('equals brute force with axis weights (%f, %f)', (wx, wy) => {
    for (let seed = 100; seed < 120; seed++) {
      const m = randomMask(17, 9, 0.08, seed)
      const fast = squaredDistanceToFeatures(m.data, 17, 9, wx, wy)
      const slow = bruteSquared(m.data, 17, 9, wx, wy)
      fast.forEach((v, k) => (Number.isFinite(slow[k]) ? expect(v).toBeCloseTo(slow[k], 9) : expect(v).toBe(Infinity)))
    }
  })

  it('gives Infinity everywhere when there is no feature', () => {
    expect([...squaredDistanceToFeatures(new Uint8Array(12), 4, 3)].every((v) => v === Infinity)).toBe(true)
  })

  it('refuses a map of the wrong size', () => {
    expect(() => squaredDistanceToFeatures(new Uint8Array(5), 2, 3)).toThrow(/6|2×3/)
  })
})

describe('distanceInside', () => {
  it('is the distance to the nearest background pixel, 0 outside the mask', () => {
    for (let seed = 0; seed < 30; seed++) {
      const m = randomMask(12, 10, 0.75, seed)
      const depth = distanceInside(m)
      const ref = bruteSquared(invert(m.data), 12, 10)
      depth.forEach((d, k) => expect(d).toBeCloseTo(m.data[k] ? Math.sqrt(ref[k]) : 0, 5))
      expect(Array.from(squaredDistanceInside(m))).toEqual(Array.from(ref).map((v, k) => (m.data[k] ? v : 0)))
    }
  })

  it('does not count the image border as background', () => {
    // a 5×3 mask filling columns 0..3, background only in column 4
    const data = new Uint8Array(15)
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) data[y * 5 + x] = 1
    const depth = distanceInside({width: 5, height: 3, data})
    expect(Array.from(depth.subarray(0, 5))).toEqual([4, 3, 2, 1, 0])
  })

  it('is infinite for a mask that fills the image', () => {
    expect([...distanceInside({width: 3, height: 2, data: new Uint8Array(6).fill(1)})].every((v) => v === Infinity)).toBe(true)
  })
})

describe('distanceToMask', () => {
  it('measures to the nearest mask pixel, per-axis weighted', () => {
    const data = new Uint8Array(7 * 5)
    data[2 * 7 + 3] = 1
    const d = distanceToMask({width: 7, height: 5, data}, 0.5, 2)
    expect(d[2 * 7 + 3]).toBe(0)
    expect(d[2 * 7 + 5]).toBeCloseTo(1, 6) // two pixels right, weight 0.5
    expect(d[0 * 7 + 3]).toBeCloseTo(4, 6) // two pixels up, weight 2
    expect(d[0]).toBeCloseTo(Math.hypot(1.5, 4), 6)
  })
})

describe('distanceInsideWindow', () => {
  it('gives every pixel the depth distanceInside gives it, small objects and ones at the image border alike', () => {
    for (let seed = 0; seed < 40; seed++) {
      // sparse blobs kept off part of the image, and dense ones that reach the border
      const m = randomMask(20, 14, seed % 2 ? 0.3 : 0.85, seed)
      if (seed % 2) for (let k = 0; k < m.data.length; k++) if (k % 20 < 5 || Math.floor(k / 20) > 10) m.data[k] = 0
      const full = distanceInside(m)
      const window = distanceInsideWindow(m)
      for (let y = 0; y < 14; y++) for (let x = 0; x < 20; x++) expect(depthAt(window, x, y)).toBe(full[y * 20 + x])
      if (seed % 2 && m.data.some((v) => v)) expect(window.w * window.h).toBeLessThan(20 * 14)
    }
  })

  it('is an empty window for an empty mask', () => {
    const window = distanceInsideWindow({width: 4, height: 3, data: new Uint8Array(12)})
    expect(window.w * window.h).toBe(0)
    expect(depthAt(window, 1, 1)).toBe(0)
  })
})
