import {describe, expect, it} from 'vitest'
import {type Candidate, greedySelect, unionIou} from '../../src/core/greedy.js'
import {coverGreedySelect} from '../../src/core/cover-greedy.js'
import {candidateIndices} from '../../src/core/candidates.js'
import {disc, discMask, seededRandom} from '../helpers/disc-world.js'

// Stand-in masks (discs around the anchors) test the selection rule only; the pipeline tests run real SAM.
const n = 8
const W = 64
const H = 64
const f = {n, width: W, height: H}

function world(seed: number) {
  const rand = seededRandom(seed)
  const gx = 12 + rand() * 40, gy = 12 + rand() * 40, gr = 8 + rand() * 12
  const gt = discMask(gx, gy, gr, W, H)
  const all = new Map<number, Candidate>()
  for (let k = 0; k < n * n; k++) {
    const ax = ((k % n) + 0.5) * 8, ay = (Math.floor(k / n) + 0.5) * 8
    // like SAM, a click inside the object mostly returns the object itself
    const whole = Math.hypot(ax - gx, ay - gy) < gr && rand() < 0.7
    all.set(k, {index: k, mask: whole ? disc(gx, gy, gr * 0.95, W, H) : disc(ax, ay, 4 + rand() * 12, W, H)})
  }
  return {gt, all}
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
