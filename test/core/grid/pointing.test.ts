import {describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {annotationToMask} from '../../../src/core/coco/records.js'
import {pointingCell} from '../../../src/core/grid/pointing.js'
import type {Mask} from '../../../src/core/masks/mask.js'

/** A w×h image with the pixels [x0, x1) × [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Mask {
  const data = new Uint8Array(w * h)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * w + x] = 1
  return {width: w, height: h, data}
}

/** Brute force, from the rule's words: every anchor's pixel, its distance to the nearest background pixel. */
function oracle(g: Mask, n: number): [number, number] | null {
  const bg: [number, number][] = []
  for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) if (!g.data[y * g.width + x]) bg.push([x, y])
  const depth = (x: number, y: number) =>
    g.data[y * g.width + x] ? Math.min(...bg.map(([bx, by]) => Math.hypot(bx - x, by - y)), Infinity) : 0
  let best: [number, number] | null = null
  let bestDepth = 0
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) {
      const d = depth(Math.floor(((i + 0.5) * g.width) / n), Math.floor(((j + 0.5) * g.height) / n))
      if (d > bestDepth) [best, bestDepth] = [[i, j], d]
    }
  if (best) return best
  let deepest: [number, number] | null = null
  let most = 0
  for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) if (depth(x, y) > most) [deepest, most] = [[x, y], depth(x, y)]
  if (!deepest) return null
  return [Math.min(n - 1, Math.floor(((deepest[0] + 0.5) * n) / g.width)), Math.min(n - 1, Math.floor(((deepest[1] + 0.5) * n) / g.height))]
}

describe('pointingCell', () => {
  it('the worked example: the deepest of the anchors in G', () => {
    expect(pointingCell(rect(64, 64, 16, 16, 48, 44), {n: 4, width: 64, height: 64})).toEqual([1, 1])
  })

  it.each([
    ['a square between anchors: its own deepest pixel', rect(64, 64, 2, 2, 6, 6), [0, 0]],
    ['a speck in the last cell', rect(64, 48, 60, 44, 62, 46), [3, 3]],
    ['a tie goes to the lower raster index', rect(64, 64, 0, 0, 64, 32), [0, 0]],
    ['nothing', rect(64, 64, 0, 0, 0, 0), null],
  ] as const)('%s', (_name, mask, cell) => {
    expect(pointingCell(mask, {n: 4, width: mask.width, height: mask.height})).toEqual(cell)
    expect(oracle(mask, 4)).toEqual(cell)
  })

  it('agrees with the brute force on real COCO objects, at n = 16 and 32', async () => {
    const data = await readCoco('fixtures/sample/instances.json')
    let checked = 0
    for (const [imageId, anns] of data.annotationsByImage) {
      const image = data.images.get(imageId)!
      for (const ann of anns.slice(0, 3)) {
        const full = annotationToMask(ann, image)
        // the oracle is quadratic in pixels: the object's box grown by 8 px, as its own small image
        const [bx, by, bw, bh] = ann.bbox.map(Math.round)
        const x0 = Math.max(0, bx - 8)
        const y0 = Math.max(0, by - 8)
        const w = Math.min(image.width, bx + bw + 8) - x0
        const h = Math.min(image.height, by + bh + 8) - y0
        if (w * h > 40_000) continue
        const crop: Mask = {width: w, height: h, data: new Uint8Array(w * h)}
        for (let y = 0; y < h; y++) crop.data.set(full.data.subarray((y0 + y) * image.width + x0, (y0 + y) * image.width + x0 + w), y * w)
        for (const n of [16, 32]) {
          expect(pointingCell(crop, {n, width: w, height: h})).toEqual(oracle(crop, n))
          checked++
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8)
  })
})
