import {describe, expect, it} from 'vitest'
import {type BoxState, boxGreedySelect} from '../../../src/core/selection/box-greedy.js'
import {boxCandidates, missedCells, parseBoxOrder} from '../../../src/core/selection/box-candidates.js'
import type {GreedyOptions} from '../../../src/core/selection/greedy.js'
import type {CropMask} from '../../../src/core/masks/crop-mask.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import {cellToAnchor, indexToCell} from '../../../src/core/grid/grid.js'
import {disc, discMask, seededRandom} from '../../helpers/disc-world.js'

// A stand-in for SAM, for the selector's rule only: the joint prompt's mask is a base disc (what the
// box gives) joined with a disc at each click, less a bite once there are three clicks or more, so
// that gains are not additive and a later click can hurt.
const W = 40
const H = 30
const grid = {n: 8, width: W, height: H}

function crop(data: Uint8Array): CropMask {
  let area = 0
  for (const v of data) area += v
  return {x0: 0, y0: 0, w: W, h: H, data, area}
}

function paint(target: Uint8Array, m: CropMask): void {
  for (let y = 0; y < m.h; y++) for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) target[(m.y0 + y) * W + m.x0 + x] = 1
}

interface World {
  gt: Mask
  base: CropMask
  radius: (k: number) => number
}

function jointMask(world: World, set: readonly number[]): CropMask {
  const data = new Uint8Array(W * H)
  paint(data, world.base)
  for (const k of set) {
    const [x, y] = cellToAnchor(...indexToCell(k, grid.n), grid)
    paint(data, disc(x, y, world.radius(k), W, H))
  }
  if (set.length >= 3) for (let y = 0; y < 6; y++) for (let x = 0; x < W; x++) data[y * W + x] = 0
  return crop(data)
}

/** IoU pixel by pixel over the frame, written apart from the selector's counts. */
function bruteIou(gt: Mask, m: CropMask): number {
  let inter = 0
  let union = 0
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const a = x >= m.x0 && y >= m.y0 && x < m.x0 + m.w && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + x - m.x0] === 1
      const b = gt.data[y * W + x] === 1
      if (a && b) inter++
      if (a || b) union++
    }
  return union === 0 ? 0 : inter / union
}

/** SPEC §8's greedy by brute force: every grid point tried at every step, IoU from scratch. */
function bruteBoxGreedy(world: World, o: GreedyOptions): {chosen: number[]; iou: number} {
  const chosen: number[] = []
  let iou = bruteIou(world.gt, jointMask(world, []))
  while (iou < o.tau && chosen.length < o.maxTokens) {
    let best = -1
    let bestIou = -Infinity
    for (let k = 0; k < grid.n * grid.n; k++) {
      if (chosen.includes(k)) continue
      const v = bruteIou(world.gt, jointMask(world, [...chosen, k]))
      if (v > bestIou + 1e-12) [best, bestIou] = [k, v]
    }
    if (best < 0 || bestIou - iou <= o.epsilon) break
    chosen.push(best)
    iou = bestIou
  }
  return {chosen, iou}
}

function randomWorld(rand: () => number): World {
  const gt = discMask(8 + rand() * 24, 6 + rand() * 18, 4 + rand() * 8, W, H)
  const extra = disc(5 + rand() * 30, 5 + rand() * 20, 3 + rand() * 5, W, H)
  paint(gt.data, extra)
  const base = disc(8 + rand() * 24, 6 + rand() * 18, 2 + rand() * 6, W, H)
  const radii = Array.from({length: grid.n * grid.n}, () => 1 + rand() * 6)
  return {gt, base, radius: (k) => radii[k]}
}

const all = () => Array.from({length: grid.n * grid.n}, (_, k) => k)

describe('boxGreedySelect', () => {
  it('chooses what the brute-force greedy chooses, with the same IoU, on random worlds', async () => {
    const rand = seededRandom(11)
    let withPoints = 0
    for (let trial = 0; trial < 60; trial++) {
      const world = randomWorld(rand)
      const options = {tau: 0.3 + rand() * 0.65, epsilon: 1e-3, maxTokens: 1 + Math.floor(rand() * 5)}
      const got = await boxGreedySelect(world.gt, all, async (sets) => sets.map((s) => jointMask(world, s)), options)
      const want = bruteBoxGreedy(world, options)
      expect(got.chosen).toEqual(want.chosen)
      expect(got.iou).toBeCloseTo(want.iou, 12)
      expect(got.boxIou).toBeCloseTo(bruteIou(world.gt, jointMask(world, [])), 12)
      expect(got.reached).toBe(got.iou >= options.tau)
      if (got.chosen.length > 0) withPoints++
    }
    // the worlds exercise both outcomes
    expect(withPoints).toBeGreaterThan(10)
    expect(withPoints).toBeLessThan(60)
  })

  it('stops at the box alone when it reaches τ: zero points, one prompt', async () => {
    const gt = discMask(20, 15, 8, W, H)
    const base = disc(20, 15, 8, W, H)
    const calls: (readonly number[])[][] = []
    const got = await boxGreedySelect(
      gt,
      all,
      async (sets) => {
        calls.push([...sets])
        return sets.map(() => base)
      },
      {tau: 0.9, epsilon: 1e-3, maxTokens: 8},
    )
    expect(got).toMatchObject({chosen: [], iou: 1, reached: true, stop: 'tau', prompts: 1, steps: 1})
    expect(calls).toEqual([[[]]])
  })

  it('asks once a step for every candidate set, each the chosen points plus one, ascending', async () => {
    const world: World = {gt: discMask(20, 15, 10, W, H), base: disc(10, 10, 3, W, H), radius: () => 5}
    const steps: (readonly number[])[][] = []
    const candidates = ({chosen}: BoxState) => [30, 10, 20, 10, ...chosen]
    const got = await boxGreedySelect(
      world.gt,
      candidates,
      async (sets) => {
        steps.push([...sets])
        return sets.map((s) => jointMask(world, s))
      },
      {tau: 0.99, epsilon: 1e-3, maxTokens: 2},
    )
    expect(steps[0]).toEqual([[]])
    expect(steps[1]).toEqual([[10], [20], [30]])
    const first = got.chosen[0]
    expect(steps[2]).toEqual([10, 20, 30].filter((k) => k !== first).map((k) => [first, k].sort((a, b) => a - b)))
    expect(got.stop).toBe('cap')
    expect(got.prompts).toBe(1 + 3 + 2)
  })

  it('breaks ties to the lower raster index and accepts a step only above ε', async () => {
    const gt = discMask(20, 15, 10, W, H)
    const small = disc(20, 15, 3, W, H)
    const big = disc(20, 15, 6, W, H)
    // candidates 7 and 5 give the same mask; any set with one of them gives `big`
    const masks = async (sets: readonly (readonly number[])[]) => sets.map((s) => (s.length > 0 ? big : small))
    const got = await boxGreedySelect(gt, () => [7, 5], masks, {tau: 0.99, epsilon: 1e-3, maxTokens: 8})
    expect(got.chosen).toEqual([5])
    expect(got.stop).toBe('no-gain')
    const gain = bruteIou(gt, big) - bruteIou(gt, small)
    const strict = await boxGreedySelect(gt, () => [7, 5], masks, {tau: 0.99, epsilon: gain, maxTokens: 8})
    expect(strict.chosen).toEqual([])
    expect(strict.iou).toBeCloseTo(bruteIou(gt, small), 12)
  })
})

describe('box candidate orders', () => {
  it('miss:K ranks the cells where the mask misses the object, deepest missed anchor first', () => {
    // G fills columns 0–35, rows 6–23; the mask covers columns 0–19
    const data = new Uint8Array(W * H)
    for (let y = 6; y < 24; y++) for (let x = 0; x < 36; x++) data[y * W + x] = 1
    const gt = {width: W, height: H, data}
    const left = new Uint8Array(20 * 18).fill(1)
    const mask: CropMask = {x0: 0, y0: 6, w: 20, h: 18, data: left, area: 20 * 18}
    const cells = missedCells(gt, mask, grid, 64)
    // every missed cell is in the right half (columns 4–7) on rows 1–6, no cell twice
    expect(new Set(cells).size).toBe(cells.length)
    for (const c of cells) expect(indexToCell(c, grid.n)[0]).toBeGreaterThanOrEqual(4)
    expect(cells).toHaveLength(4 * 6)
    // the deepest anchors of the missed block (x 20–35, y 6–23): column 5 (x 27.5) on rows 3 and 4
    // (y 13.1, 16.9), 8 pixels from its edges; then the six 4 pixels from an edge (columns 5 and 6)
    expect(cells.slice(0, 2)).toEqual([29, 37])
    expect(cells.slice(2, 8).sort((a, b) => a - b)).toEqual([21, 22, 30, 38, 45, 46])
    expect(missedCells(gt, mask, grid, 3)).toEqual(cells.slice(0, 3))
    // nothing missed, nothing to try
    expect(missedCells(gt, {x0: 0, y0: 0, w: W, h: H, data: new Uint8Array(W * H).fill(1), area: W * H}, grid, 8)).toEqual([])
  })

  it('parses the benchmark names and builds their candidate lists', () => {
    const gt = discMask(20, 15, 4, W, H)
    const state = {chosen: [], mask: {x0: 0, y0: 0, w: 0, h: 0, data: new Uint8Array(0), area: 0}, iou: 0}
    expect(boxCandidates(parseBoxOrder('all'), gt, grid)(state)).toHaveLength(64)
    const m0 = boxCandidates(parseBoxOrder('pool:m0'), gt, grid)(state)
    const m1 = boxCandidates(parseBoxOrder('pool:m1'), gt, grid)(state)
    expect(m0.every((k) => m1.includes(k))).toBe(true)
    expect(m1.length).toBeGreaterThan(m0.length)
    expect(boxCandidates(parseBoxOrder('miss:2'), gt, grid)(state)).toHaveLength(2)
    expect(() => parseBoxOrder('some')).toThrow(/all, pool:mM or miss:K/)
  })
})
