import {describe, expect, it} from 'vitest'
import {type Candidate, greedySelect, unionIou} from '../../../src/core/selection/greedy.js'
import {type CoverOptions, coverGreedySelect} from '../../../src/core/selection/cover-greedy.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import type {CropMask} from '../../../src/core/masks/sam-geometry.js'
import {cellCoverage, objectPool} from '../../../src/core/selection/candidates.js'
import {cellNeighbours} from '../../../src/core/grid/grid.js'
import {disc, discMask, seededRandom} from '../../helpers/disc-world.js'

// Stand-in masks (discs around the anchors) test the selection rule only; the pipeline tests run real SAM.
const n = 8
const W = 64
const H = 64
const f = {n, width: W, height: H}

function world(seed: number) {
  const rand = seededRandom(seed)
  const gx = 12 + rand() * 40,
    gy = 12 + rand() * 40,
    gr = 8 + rand() * 12
  const gt = discMask(gx, gy, gr, W, H)
  const all = new Map<number, Candidate>()
  for (let k = 0; k < n * n; k++) {
    const ax = ((k % n) + 0.5) * 8,
      ay = (Math.floor(k / n) + 0.5) * 8
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
      const pool = objectPool(gt, f, 0)
      const got = await coverGreedySelect(
        gt,
        f,
        pool,
        async (ks) => {
          asked.push(...ks)
          return ks.map((k) => all.get(k)!)
        },
        {...rule, precision: 0.5},
      )
      expect(new Set(asked).size).toBe(asked.length)
      expect(asked.every((k) => pool.includes(k))).toBe(true)
      askedTotal += asked.length
      poolTotal += pool.length
      expect(got.chosen.every((k) => asked.includes(k))).toBe(true)
      expect(got.iou).toBeCloseTo(
        unionIou(
          gt,
          got.chosen.map((k) => all.get(k)!.mask),
        ),
        12,
      )
    }
    console.log(`cover prompted ${askedTotal} of ${poolTotal} pool points`)
    expect(askedTotal).toBeLessThan(0.8 * poolTotal)
  })

  const variants = [
    {order: 'depth' as const},
    {outside: false},
    {climbPrecision: 0.9},
    {order: 'depth' as const, outside: false, climbPrecision: 0.95},
    {climbMargin: 1},
    {climbRatio: 0.9},
    {order: 'depth' as const, climbMargin: 1, climbRatio: 0.9},
    {climbMargin: 1, climbEdgesAbove: 0},
    {order: 'depth' as const, outside: false, climbMargin: 1, climbEdgesAbove: 0},
    {order: 'depth' as const, climbMargin: 1, climbEdgesAbove: 20},
    {order: 'depth' as const, climbMargin: 1, climbOutsideMaxPool: 0},
    {climbMargin: 1, climbPrecision: 0.9, climbSkipAbove: 20},
  ]
  for (const variant of variants) {
    it(`keeps its promises with ${JSON.stringify(variant)}`, async () => {
      for (let seed = 1; seed <= 12; seed++) {
        const {gt, all} = world(seed)
        const asked: number[] = []
        const pool = objectPool(gt, f, 0)
        const reach = objectPool(gt, f, 'climbMargin' in variant ? variant.climbMargin : 0)
        const got = await coverGreedySelect(
          gt,
          f,
          pool,
          async (ks) => {
            asked.push(...ks)
            return ks.map((k) => all.get(k)!)
          },
          {...rule, precision: 0.8, ...variant},
        )
        expect(new Set(asked).size).toBe(asked.length)
        expect(asked.every((k) => reach.includes(k))).toBe(true)
        // every point beyond the walk's pool is a climb step: next to a point prompted before it
        // (sharing an edge with it when the climb keeps to edges)
        const step = 'climbEdgesAbove' in variant && pool.length > variant.climbEdgesAbove ? 4 : 8
        asked.forEach((k, at) => {
          if (!pool.includes(k)) expect(cellNeighbours(k, n, step).some((q) => asked.slice(0, at).includes(q))).toBe(true)
        })
        expect(got.chosen.every((k) => asked.includes(k))).toBe(true)
        expect(got.iou).toBeCloseTo(
          unionIou(
            gt,
            got.chosen.map((k) => all.get(k)!.mask),
          ),
          12,
        )
        // the result is the greedy rule over exactly what was prompted
        expect(got.chosen).toEqual(
          greedySelect(
            gt,
            asked.map((k) => all.get(k)!),
            rule,
          ).chosen,
        )
        if (variant.outside === false) {
          // a point with its anchor outside the object is prompted only by the climb, next to a point chosen before
          const insideAnchors = pool.filter((k) => anchorInside(gt, k)).length
          asked.forEach((k, at) => {
            if (!anchorInside(gt, k) && insideAnchors > 0)
              expect(cellNeighbours(k, n).some((q) => asked.slice(0, at).includes(q))).toBe(true)
          })
        }
      }
    })
  }

  it('reaches a best point outside the pool only when the climb may leave it, from near-best points', async () => {
    // the object's own mask comes only from the point at cell (5, 3), just right of the cells it touches;
    // every point of the pool returns the same inner part of it, so the greedy choice is the first of them
    const gt = discMask(28, 28, 10, W, H)
    const pool = objectPool(gt, f, 0)
    const outsider = 3 * n + 5
    expect(pool).not.toContain(outsider)
    const cand = (k: number): Candidate => ({
      index: k,
      mask: k === outsider ? disc(28, 28, 10, W, H) : pool.includes(k) ? disc(28, 28, 6, W, H) : disc(4, 60, 2, W, H),
    })
    const run = (options: object) => coverGreedySelect(gt, f, pool, async (ks) => ks.map(cand), {...rule, precision: 0.8, ...options})
    expect((await run({climbMargin: 1, climbRatio: 0.9})).chosen).toEqual([outsider])
    expect((await run({climbMargin: 1, climbRatio: 0.9})).iou).toBe(1)
    expect((await run({climbRatio: 0.9})).chosen).not.toContain(outsider)
    expect((await run({climbMargin: 1})).chosen).not.toContain(outsider)
  })

  it('climbs to diagonal neighbours only in pools no larger than climbEdgesAbove', async () => {
    // the object's own mask comes only from a point diagonal to a corner of the cells it touches
    const gt = discMask(28, 28, 10, W, H)
    const pool = objectPool(gt, f, 0)
    const ring = objectPool(gt, f, 1).filter((k) => !pool.includes(k))
    const corner = ring.find((k) => !cellNeighbours(k, n, 4).some((q) => pool.includes(q)))!
    expect(cellNeighbours(corner, n).some((q) => pool.includes(q))).toBe(true)
    const cand = (k: number): Candidate => ({
      index: k,
      mask: k === corner ? disc(28, 28, 10, W, H) : pool.includes(k) ? disc(28, 28, 6, W, H) : disc(4, 60, 2, W, H),
    })
    const run = (options: object) =>
      coverGreedySelect(gt, f, pool, async (ks) => ks.map(cand), {...rule, precision: 0.8, climbMargin: 1, climbRatio: 0.9, ...options})
    expect((await run({})).chosen).toEqual([corner])
    expect((await run({climbEdgesAbove: pool.length})).chosen).toEqual([corner])
    expect((await run({climbEdgesAbove: pool.length - 1})).chosen).not.toContain(corner)
  })

  it('takes masks known for the image as free candidates: never prompted again, chosen like prompted ones', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const rand = seededRandom(100 + seed)
      const known = [...all.values()].filter(() => rand() < 0.3)
      const asked: number[] = []
      const pool = objectPool(gt, f, 0)
      const got = await coverGreedySelect(
        gt,
        f,
        pool,
        async (ks) => {
          asked.push(...ks)
          return ks.map((k) => all.get(k)!)
        },
        {...rule, precision: 0.8, order: 'depth', climbMargin: 1, known},
      )
      expect(asked.filter((k) => known.some((c) => c.index === k))).toEqual([])
      expect(new Set(asked).size).toBe(asked.length)
      const seen = [...asked.map((k) => all.get(k)!), ...known]
      expect(got.chosen).toEqual(greedySelect(gt, seen, rule).chosen)
      expect(got.iou).toBeCloseTo(
        unionIou(
          gt,
          got.chosen.map((k) => all.get(k)!.mask),
        ),
        12,
      )
    }
  })

  it('chooses a known mask from far away, yet still walks from its own deepest anchor', async () => {
    // the pool's points return an inner part of the object; a point decoded for another object, far
    // outside this one's pool, happens to return the object itself
    const gt = discMask(28, 28, 10, W, H)
    const pool = objectPool(gt, f, 0)
    const far = 7 * n + 7
    expect(pool).not.toContain(far)
    const asked: number[] = []
    const got = await coverGreedySelect(
      gt,
      f,
      pool,
      async (ks) => {
        asked.push(...ks)
        return ks.map((k) => ({index: k, mask: disc(28, 28, 6, W, H)}))
      },
      {...rule, precision: 0.8, order: 'depth', known: [{index: far, mask: disc(28, 28, 10, W, H)}]},
    )
    expect(got.chosen).toEqual([far])
    expect(got.iou).toBe(1)
    expect(asked).not.toContain(far)
    // the known mask lies wholly inside the object but does not stand for the anchors it covers
    const [x, y] = anchorPixel(asked[0])
    expect(Math.hypot(x - 28, y - 28)).toBe(Math.min(...pool.map((k) => Math.hypot(anchorPixel(k)[0] - 28, anchorPixel(k)[1] - 28))))
  })

  for (const [lattice, sparseAbove, onLattice] of [
    ['a checkerboard', {checker: 0, quarter: Infinity}, (k: number) => ((k % n) + Math.floor(k / n)) % 2 === 0],
    ['every other row and column', {checker: 0, quarter: 0}, (k: number) => (k % n) % 2 === 0 && Math.floor(k / n) % 2 === 0],
  ] as const) {
    it(`walks a large pool on ${lattice}, and reaches other cells only by climbing`, async () => {
      let sparseCalls = 0
      let denseCalls = 0
      for (let seed = 1; seed <= 12; seed++) {
        const {gt, all} = world(seed)
        const pool = objectPool(gt, f, 0)
        const run = (options: object) => recordedRun(gt, all, pool, {...rule, order: 'depth', ...options})
        const {asked, got} = await run({sparseAbove})
        // the walk comes first and keeps to the lattice; a point off it is a climb step, beside one asked before
        asked.forEach((k, at) => {
          if (!onLattice(k)) expect(cellNeighbours(k, n).some((q) => asked.slice(0, at).includes(q))).toBe(true)
        })
        expect(got.chosen).toEqual(
          greedySelect(
            gt,
            asked.map((k) => all.get(k)!),
            rule,
          ).chosen,
        )
        sparseCalls += asked.length
        denseCalls += (await run({})).asked.length
        // pools at or below the thresholds are walked whole
        expect((await run({sparseAbove: {checker: pool.length, quarter: pool.length}})).asked).toEqual((await run({})).asked)
      }
      expect(sparseCalls).toBeLessThan(denseCalls)
    })
  }

  it('walks the outside anchors only of pools up to outsideMaxPool cells', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const run = async (options: object) => (await recordedRun(gt, all, pool, {...rule, order: 'depth', ...options})).asked
      expect(await run({outsideMaxPool: pool.length})).toEqual(await run({}))
      const asked = await run({outsideMaxPool: pool.length - 1})
      // an outside anchor is reached only by climbing, beside a point asked before it
      asked.forEach((k, at) => {
        if (!anchorInside(gt, k) && at > 0) expect(cellNeighbours(k, n).some((q) => asked.slice(0, at).includes(q))).toBe(true)
      })
    }
  })

  it('climbs to a neighbour outside both the object and the chosen masks only in pools up to climbOutsideMaxPool cells', async () => {
    let saved = 0
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const run = async (options: object) =>
        (await recordedRun(gt, all, pool, {...rule, order: 'depth', outside: false, climbMargin: 1, ...options})).asked
      expect(await run({climbOutsideMaxPool: pool.length})).toEqual(await run({}))
      const asked = await run({climbOutsideMaxPool: pool.length - 1})
      // the walk takes inside anchors only, so an outside anchor was climbed to: it lies in a mask prompted before it
      asked.forEach((k, at) => {
        if (!anchorInside(gt, k)) expect(asked.slice(0, at).some((q) => cropMaskHas(all.get(q)!.mask, anchorPixel(k)))).toBe(true)
      })
      saved += (await run({})).length - asked.length
    }
    expect(saved).toBeGreaterThan(0)
  })

  it('skips covered climb neighbours only in pools of more than climbSkipAbove cells', async () => {
    let differs = 0
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const run = async (options: object) => (await recordedRun(gt, all, pool, {...rule, order: 'depth', climbMargin: 1, ...options})).asked
      expect(await run({climbPrecision: 0.9, climbSkipAbove: pool.length})).toEqual(await run({}))
      const skipping = await run({climbPrecision: 0.9})
      expect(await run({climbPrecision: 0.9, climbSkipAbove: pool.length - 1})).toEqual(skipping)
      if (skipping.length !== (await run({})).length) differs++
    }
    expect(differs).toBeGreaterThan(0)
  })

  it('walks an outside anchor only when the object covers outsideMinCover of its cell', async () => {
    let skipped = 0
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const share = cellCoverage(gt, f)
      const run = async (options: object) => (await recordedRun(gt, all, pool, {...rule, order: 'depth', ...options})).asked
      expect(await run({outsideMinCover: 0})).toEqual(await run({}))
      const asked = await run({outsideMinCover: 0.3})
      // an outside anchor of a cell the object covers less is reached only by climbing, beside a point asked before it
      asked.forEach((k, at) => {
        if (!anchorInside(gt, k) && share[k] < 0.3 && at > 0)
          expect(cellNeighbours(k, n).some((q) => asked.slice(0, at).includes(q))).toBe(true)
      })
      skipped += pool.filter((k) => !anchorInside(gt, k) && share[k] < 0.3 && !asked.includes(k)).length
    }
    expect(skipped).toBeGreaterThan(0)
  })

  it('prompts the rest of the pool when the walk finds nothing that meets the object', async () => {
    // a thin object between the anchors: no anchor lies inside it and the walk skips outside ones,
    // yet the point at cell (2, 2) returns its mask
    const gt = discMask(16, 16, 2, W, H)
    const pool = objectPool(gt, f, 0)
    expect(pool.some((k) => anchorInside(gt, k))).toBe(false)
    const target = 2 * n + 2
    const cand = (k: number): Candidate => ({index: k, mask: k === target ? disc(16, 16, 2, W, H) : disc(60, 60, 1, W, H)})
    const got = await coverGreedySelect(gt, f, pool, async (ks) => ks.map(cand), {
      ...rule,
      precision: 0.8,
      outside: false,
      known: [cand(63)],
    })
    expect(pool).toContain(target)
    expect(got.chosen).toEqual([target])
  })

  it('walks the deepest anchor first with order depth', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const asked: number[] = []
      await coverGreedySelect(
        gt,
        f,
        pool,
        async (ks) => {
          asked.push(...ks)
          return ks.map((k) => all.get(k)!)
        },
        {...rule, precision: 0.8, order: 'depth'},
      )
      // depth by brute force: distance from the anchor's pixel centre to the nearest background pixel centre
      const depth = (k: number): number => {
        const [x, y] = anchorPixel(k)
        if (!gt.data[y * W + x]) return 0
        let best = Infinity
        for (let v = 0; v < H; v++) for (let u = 0; u < W; u++) if (!gt.data[v * W + u]) best = Math.min(best, Math.hypot(u - x, v - y))
        return best
      }
      const deepest = Math.max(...pool.map(depth))
      expect(depth(asked[0])).toBeCloseTo(deepest, 9)
    }
  })

  it('prompts fewer points with the fast settings than with the plain walk', async () => {
    let plain = 0
    let fast = 0
    for (let seed = 1; seed <= 12; seed++) {
      const {gt, all} = world(seed)
      const pool = objectPool(gt, f, 0)
      const count = async (options: object) => {
        let calls = 0
        await coverGreedySelect(
          gt,
          f,
          pool,
          async (ks) => {
            calls += ks.length
            return ks.map((k) => all.get(k)!)
          },
          {...rule, precision: 0.8, ...options},
        )
        return calls
      }
      plain += await count({})
      fast += await count({order: 'depth', outside: false, climbPrecision: 0.95})
    }
    expect(fast).toBeLessThan(plain)
  })
})

/** A run over the stand-in world at precision 0.8 (unless set), with the points it asked for, in order. */
async function recordedRun(
  gt: Mask,
  all: Map<number, Candidate>,
  pool: readonly number[],
  options: Omit<CoverOptions, 'precision'> & {precision?: number},
) {
  const asked: number[] = []
  const got = await coverGreedySelect(
    gt,
    f,
    pool,
    async (ks) => {
      asked.push(...ks)
      return ks.map((k) => all.get(k)!)
    },
    {precision: 0.8, ...options},
  )
  return {asked, got}
}

function anchorPixel(k: number): [number, number] {
  return [(k % n) * 8 + 4, Math.floor(k / n) * 8 + 4]
}

function anchorInside(gt: {data: Uint8Array}, k: number): boolean {
  const [x, y] = anchorPixel(k)
  return gt.data[y * W + x] === 1
}

function cropMaskHas(m: CropMask, [x, y]: [number, number]): boolean {
  return x >= m.x0 && y >= m.y0 && x < m.x0 + m.w && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + (x - m.x0)] === 1
}
