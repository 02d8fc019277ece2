import {describe, expect, it} from 'vitest'
import {type Candidate, greedySelect, unionIou} from '../../src/core/greedy.js'
import {coverGreedySelect} from '../../src/core/cover-greedy.js'
import {candidateIndices} from '../../src/core/candidates.js'
import type {Mask} from '../../src/core/mask.js'
import type {CropMask} from '../../src/core/sam-geometry.js'

// Stand-in masks (discs around the anchors) test the selection rule only; the pipeline tests run real SAM.
const n = 8
const W = 64
const H = 64
const f = {n, width: W, height: H}

function disc(cx: number, cy: number, r: number): CropMask {
  const x0 = Math.max(0, Math.floor(cx - r)), y0 = Math.max(0, Math.floor(cy - r))
  const w = Math.min(W, Math.ceil(cx + r)) - x0, h = Math.min(H, Math.ceil(cy + r)) - y0
  const data = new Uint8Array(w * h)
  let area = 0
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (Math.hypot(x0 + x + 0.5 - cx, y0 + y + 0.5 - cy) <= r) { data[y * w + x] = 1; area++ }
  return {x0, y0, w, h, data, area}
}

function world(seed: number) {
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const data = new Uint8Array(W * H)
  const gx = 12 + rand() * 40, gy = 12 + rand() * 40, gr = 8 + rand() * 12
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (Math.hypot(x + 0.5 - gx, y + 0.5 - gy) <= gr) data[y * W + x] = 1
  const all = new Map<number, Candidate>()
  for (let k = 0; k < n * n; k++) {
    const ax = ((k % n) + 0.5) * 8, ay = (Math.floor(k / n) + 0.5) * 8
    // like SAM, a click inside the object mostly returns the object itself
    const whole = Math.hypot(ax - gx, ay - gy) < gr && rand() < 0.7
    all.set(k, {index: k, mask: whole ? disc(gx, gy, gr * 0.95) : disc(ax, ay, 4 + rand() * 12)})
  }
  return {gt: {width: W, height: H, data} as Mask, all}
}

describe('coverGreedySelect', () => {
  const rule = {tau: 0.9, epsilon: 1e-3, maxTokens: 10}

  it('is the exhaustive rule over the pool when no mask may stand for others', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = [...all.keys()]
      const ref = greedySelect(gt, [...all.values()], rule)
      const got = await coverGreedySelect(gt, f, pool, async (ks) => ks.map((k) => all.get(k)!), {...rule, precision: 1.01})
      expect(got.chosen).toEqual(ref.chosen)
      expect(got.iou).toBeCloseTo(ref.iou, 12)
    }
  })

  it('prompts each point at most once, fewer than the pool, and reports the true IoU of its choice', async () => {
    let askedTotal = 0
    let poolTotal = 0
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const asked: number[] = []
      const pool = candidateIndices(gt, f, 'fast', 0)
      const got = await coverGreedySelect(gt, f, pool, async (ks) => { asked.push(...ks); return ks.map((k) => all.get(k)!) }, {...rule, precision: 0.5})
      expect(new Set(asked).size).toBe(asked.length)
      expect(asked.every((k) => pool.includes(k))).toBe(true)
      askedTotal += asked.length
      poolTotal += pool.length
      expect(got.chosen.every((k) => asked.includes(k))).toBe(true)
      expect(got.iou).toBeCloseTo(unionIou(gt, got.chosen.map((k) => all.get(k)!.mask)), 12)
    }
    console.log(`cover prompted ${askedTotal} of ${poolTotal} pool points`)
    expect(askedTotal).toBeLessThan(0.8 * poolTotal)
  })
})
