import {describe, expect, it} from 'vitest'
import {type Candidate, greedySelect, unionIou} from '../../../src/core/selection/greedy.js'
import {coarseLattice, lazyGreedySelect} from '../../../src/core/selection/lazy-greedy.js'
import {disc, discMask, seededRandom} from '../../helpers/disc-world.js'

// Stand-in masks (discs around each grid anchor) test the selection rule only; the pipeline tests run real SAM.
const n = 8
const W = 64
const H = 64

function world(seed: number) {
  const rand = seededRandom(seed)
  const gx = 10 + rand() * 40,
    gy = 10 + rand() * 40,
    gr = 6 + rand() * 14
  const gt = discMask(gx, gy, gr, W, H)
  const all = new Map<number, Candidate>()
  for (let k = 0; k < n * n; k++) {
    const cx = ((k % n) + 0.5) * 8,
      cy = (Math.floor(k / n) + 0.5) * 8
    all.set(k, {index: k, mask: disc(cx, cy, 3 + rand() * 12, W, H)})
  }
  return {gt, all}
}

describe('lazyGreedySelect', () => {
  const rule = {tau: 0.9, epsilon: 1e-3, maxTokens: 10}

  it('equals the exhaustive rule over the pool when it decodes the whole pool', async () => {
    for (let seed = 1; seed <= 15; seed++) {
      const {gt, all} = world(seed)
      const pool = [...all.keys()]
      const ref = greedySelect(gt, [...all.values()], rule)
      const lazy = await lazyGreedySelect(gt, n, pool, async (ks) => ks.map((k) => all.get(k)!), {...rule, stride: 1, smallPool: 0})
      expect(lazy.chosen).toEqual(ref.chosen)
      expect(lazy.iou).toBeCloseTo(ref.iou, 12)
    }
  })

  it('asks for fewer masks with stride 2 when τ is met early, and never asks twice', async () => {
    const rule = {tau: 0.5, epsilon: 1e-3, maxTokens: 10}
    let fewer = 0
    for (let seed = 1; seed <= 15; seed++) {
      const {gt, all} = world(seed)
      const asked: number[] = []
      const lazy = await lazyGreedySelect(
        gt,
        n,
        [...all.keys()],
        async (ks) => {
          asked.push(...ks)
          return ks.map((k) => all.get(k)!)
        },
        {...rule, stride: 2, smallPool: 0},
      )
      expect(new Set(asked).size).toBe(asked.length)
      if (asked.length < n * n) fewer++
      // savings only come from meeting τ: a run that stops short of τ has looked at the whole pool
      if (lazy.stop !== 'tau') expect(asked.length).toBe(n * n)
      // its IoU is the true IoU of the union it chose, and each step gained more than ε
      expect(lazy.chosen.length).toBeGreaterThan(0)
      expect(lazy.iou).toBeCloseTo(
        unionIou(
          gt,
          lazy.chosen.map((k) => all.get(k)!.mask),
        ),
        12,
      )
      lazy.trace.forEach((v, k) => expect(v - (k === 0 ? 0 : lazy.trace[k - 1])).toBeGreaterThan(rule.epsilon))
    }
    expect(fewer).toBeGreaterThan(7)
  })

  it('probes a coarse lattice anchored at the pool corner', () => {
    // pool: columns 3–6 of rows 2–4 on an 8×8 grid
    const pool = [2, 3, 4].flatMap((j) => [3, 4, 5, 6].map((i) => j * 8 + i))
    expect(coarseLattice(pool, 8, 2)).toEqual([19, 21, 35, 37])
    expect(coarseLattice([42], 8, 3)).toEqual([42])
  })
})
