import {describe, expect, it} from 'vitest'
import {
  type Candidate,
  type GreedyOptions,
  countAgainst,
  greedySelect,
  truncateAtTau,
  unionIou,
} from '../../../src/core/selection/greedy.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import type {CropMask} from '../../../src/core/masks/sam-geometry.js'

// Hand-made candidate masks stand in for SAM here only: this tests the selector's rule.
const W = 20
const H = 10

function rect(x0: number, y0: number, x1: number, y1: number): CropMask {
  const w = x1 - x0
  const h = y1 - y0
  return {x0, y0, w, h, data: new Uint8Array(w * h).fill(1), area: w * h}
}

function gtRect(x0: number, y0: number, x1: number, y1: number): Mask {
  const data = new Uint8Array(W * H)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * W + x] = 1
  return {width: W, height: H, data}
}

/** Plain full-size IoU, written independently of the selector's incremental counts. */
function bruteIou(gt: Mask, masks: CropMask[]): number {
  let inter = 0
  let union = 0
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inU = masks.some((m) => x >= m.x0 && x < m.x0 + m.w && y >= m.y0 && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + x - m.x0])
      const inG = gt.data[y * W + x] === 1
      if (inU && inG) inter++
      if (inU || inG) union++
    }
  }
  return inter / union
}

function lcg(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

/** A rectangle somewhere in the W×H frame, at most `maxSide` wide when given. */
function randomRect(rand: () => number, maxSide = W): CropMask {
  const x0 = Math.floor(rand() * 16),
    y0 = Math.floor(rand() * 8)
  const x1 = Math.min(W, x0 + 1 + Math.floor(rand() * Math.min(maxSide, W - x0 - 1)))
  const y1 = Math.min(H, y0 + 1 + Math.floor(rand() * Math.min(maxSide, H - y0 - 1)))
  return rect(x0, y0, Math.max(x0 + 1, x1), Math.max(y0 + 1, y1))
}

/** The greedy rule by brute force: every candidate's union IoU recomputed from scratch at each step. */
function bruteGreedy(g: Mask, pool: Candidate[], options: GreedyOptions): {chosen: number[]; iou: number} {
  const chosen: number[] = []
  let iou = 0
  for (let step = 0; step < options.maxTokens && iou < options.tau; step++) {
    let best = -1
    let bestIou = -1
    for (const c of pool) {
      if (chosen.includes(c.index)) continue
      const v = bruteIou(g, [...chosen.map((k) => pool[k].mask), c.mask])
      if (v > bestIou + 1e-12) {
        bestIou = v
        best = c.index
      }
    }
    if (best < 0 || bestIou - iou <= options.epsilon) break
    chosen.push(best)
    iou = bestIou
  }
  return {chosen, iou}
}

describe('countAgainst', () => {
  it('counts only inside the box of U ∪ G and gets the same gain and cost as a whole-crop count', () => {
    const rand = lcg(5)
    const speckled = (): CropMask => {
      const r = randomRect(rand)
      const data = r.data.map(() => (rand() < 0.6 ? 1 : 0))
      return {...r, data, area: data.reduce((a, b) => a + b, 0)}
    }
    const paint = (target: Uint8Array, m: CropMask) => {
      for (let y = 0; y < m.h; y++) for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) target[(m.y0 + y) * W + m.x0 + x] = 1
    }
    for (let trial = 0; trial < 200; trial++) {
      const gt = new Uint8Array(W * H)
      const union = new Uint8Array(W * H)
      paint(gt, speckled())
      if (trial % 2) paint(union, speckled())
      let [x0, y0, x1, y1] = [W, H, 0, 0]
      for (let k = 0; k < W * H; k++)
        if (gt[k] || union[k])
          [x0, y0, x1, y1] = [
            Math.min(x0, k % W),
            Math.min(y0, Math.floor(k / W)),
            Math.max(x1, (k % W) + 1),
            Math.max(y1, Math.floor(k / W) + 1),
          ]
      const within = {x0, y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0)}
      const m = speckled()
      // the plain definitions, pixel by pixel over the frame
      let gain = 0
      let cost = 0
      for (let y = m.y0; y < m.y0 + m.h; y++)
        for (let x = m.x0; x < m.x0 + m.w; x++) {
          if (!m.data[(y - m.y0) * m.w + x - m.x0] || union[y * W + x]) continue
          if (gt[y * W + x]) gain++
          else cost++
        }
      expect(countAgainst(m, gt, union, W, within)).toEqual({gain, cost})
      expect(countAgainst(m, gt, union, W)).toEqual({gain, cost})
    }
  })
})

describe('greedySelect', () => {
  const gt = gtRect(2, 2, 12, 8) // 10×6 = 60 px
  const cands: Candidate[] = [
    {index: 5, mask: rect(2, 2, 7, 8)}, // left half, exact
    {index: 3, mask: rect(7, 2, 12, 8)}, // right half, exact
    {index: 9, mask: rect(0, 0, 20, 10)}, // whole image: IoU 0.3
    {index: 1, mask: rect(2, 2, 7, 8)}, // same mask as index 5: tie goes to the lower index
    {index: 7, mask: rect(15, 0, 20, 10)}, // outside the object: never helps
  ]

  it('reaches IoU 1 with the two halves, lower index first on ties', () => {
    const r = greedySelect(gt, cands, {tau: 0.99, epsilon: 1e-3, maxTokens: 10})
    expect(r.chosen).toEqual([1, 3])
    expect(r.iou).toBe(1)
    expect(r.reached).toBe(true)
    expect(r.stop).toBe('tau')
    expect(r.trace[0]).toBeCloseTo(0.5)
  })

  it('stops as soon as τ is met and agrees with a brute-force IoU', () => {
    const r = greedySelect(gt, cands, {tau: 0.4, epsilon: 1e-3, maxTokens: 10})
    expect(r.chosen).toEqual([1])
    const masks = r.chosen.map((k) => cands.find((c) => c.index === k)!.mask)
    expect(r.iou).toBeCloseTo(bruteIou(gt, masks), 12)
    expect(unionIou(gt, masks)).toBeCloseTo(bruteIou(gt, masks), 12)
  })

  it('respects the token cap and reports it', () => {
    const r = greedySelect(gt, cands, {tau: 0.99, epsilon: 1e-3, maxTokens: 1})
    expect(r.chosen.length).toBe(1)
    expect(r.stop).toBe('cap')
    expect(r.reached).toBe(false)
  })

  it('reports when no candidate overlaps the object', () => {
    const r = greedySelect(gt, [cands[4]], {tau: 0.8, epsilon: 1e-3, maxTokens: 10})
    expect(r.chosen).toEqual([])
    expect(r.stop).toBe('no-candidate')
    expect(r.iou).toBe(0)
  })

  it('matches an exhaustive brute-force greedy on random masks', () => {
    const rand = lcg(7)
    for (let trial = 0; trial < 20; trial++) {
      const g = gtRect(Math.floor(rand() * 5), Math.floor(rand() * 3), 8 + Math.floor(rand() * 10), 5 + Math.floor(rand() * 5))
      const pool = Array.from({length: 12}, (_, index) => ({index, mask: randomRect(rand)}))
      const options = {tau: 0.95, epsilon: 1e-3, maxTokens: 6}
      const r = greedySelect(g, pool, options)
      const ref = bruteGreedy(g, pool, options)
      expect(r.chosen).toEqual(ref.chosen)
      expect(r.iou).toBeCloseTo(ref.iou, 12)
    }
  })

  // Many overlapping masks, exact duplicates and long runs: the recounts skipped on stale bounds must
  // never change a choice, ties included (the lower index wins).
  it('matches the brute-force greedy with many overlapping, duplicated candidates and long runs', () => {
    const rand = lcg(11)
    let steps = 0
    for (let trial = 0; trial < 40; trial++) {
      const g = gtRect(Math.floor(rand() * 6), Math.floor(rand() * 4), 6 + Math.floor(rand() * 14), 4 + Math.floor(rand() * 6))
      const masks = Array.from({length: 20}, () => randomRect(rand, 6))
      // every fourth candidate repeats an earlier mask at a higher index
      const pool = Array.from({length: 28}, (_, index) => ({index, mask: index < 20 ? masks[index] : masks[Math.floor(rand() * 20)]}))
      const options = {tau: 0.999, epsilon: 0, maxTokens: 12}
      const r = greedySelect(g, pool, options)
      const ref = bruteGreedy(g, pool, options)
      expect(r.chosen).toEqual(ref.chosen)
      expect(r.iou).toBeCloseTo(ref.iou, 12)
      steps += r.chosen.length
    }
    // the runs are long enough for counts to go stale and be skipped
    expect(steps).toBeGreaterThan(40 * 3)
  })

  it('gives the same run when handed the counts against the empty union', () => {
    const rand = lcg(5)
    for (let trial = 0; trial < 10; trial++) {
      const g = gtRect(2, 1, 14, 8)
      const pool = Array.from({length: 16}, (_, index) => ({index, mask: randomRect(rand, 6)}))
      const first = new Map(pool.map((c) => [c.index, countAgainst(c.mask, g.data, new Uint8Array(W * H), W)]))
      expect(greedySelect(g, pool, {tau: 0.99, epsilon: 0, maxTokens: 8}, first)).toEqual(
        greedySelect(g, pool, {tau: 0.99, epsilon: 0, maxTokens: 8}),
      )
    }
  })

  it('truncates a run at a lower τ to the same prefix', () => {
    const r = greedySelect(gt, cands, {tau: 0.99, epsilon: 1e-3, maxTokens: 10})
    const t = truncateAtTau(r, 0.45)
    expect(t.chosen).toEqual([1])
    expect(t.reached).toBe(true)
  })
})
