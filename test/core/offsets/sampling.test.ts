import {describe, expect, it} from 'vitest'
import type {GridRegions, Region} from '../../../src/core/offsets/regions.js'
import {DEFAULT_QUOTAS, mulberry32, objectSeed, parseQuotas, quotaCounts, samplePairs} from '../../../src/core/offsets/sampling.js'

/** A 10×10 grid with the given number of points per region, laid out in raster order. */
function gridWith(counts: Partial<Record<Region, number>>, n = 10): GridRegions {
  const regions: Region[] = []
  for (const r of ['inside', 'ring', 'hard_delete'] as Region[]) for (let k = 0; k < (counts[r] ?? 0); k++) regions.push(r)
  while (regions.length < n * n) regions.push('far')
  const targets = regions.map((r) =>
    r === 'inside' ? ([0, 0] as [number, number]) : r === 'ring' ? ([1, 0] as [number, number]) : ('delete' as const),
  )
  return {n, regions, targets}
}

const tally = (pairs: {region: Region}[]) => {
  const t: Record<Region, number> = {ring: 0, inside: 0, hard_delete: 0, far: 0}
  for (const p of pairs) t[p.region]++
  return t
}

describe('parseQuotas', () => {
  it.each([
    ['ring=0.5,inside=0.25,hard=0.15,far=0.1', 'fractions', {ring: 0.5, inside: 0.25, hard_delete: 0.15, far: 0.1}],
    ['ring=8, inside=4, hard_delete=3, far=1', 'counts', {ring: 8, inside: 4, hard_delete: 3, far: 1}],
    ['inside=1', 'fractions', {ring: 0, inside: 1, hard_delete: 0, far: 0}],
    ['ring=3,far=2', 'counts', {ring: 3, inside: 0, hard_delete: 0, far: 2}],
  ])('%s', (text, mode, values) => {
    expect(parseQuotas(text)).toEqual({mode, values})
  })

  it.each([
    ['ring=0.5,inside=0.2', /neither fractions/],
    ['ring=2.5,inside=1', /neither fractions/],
    ['edge=1', /expected ring/],
    ['ring=-1,inside=2', /≥ 0/],
    ['ring=1,ring=0', /twice/],
    ['ring', /expected ring/],
  ])('refuses %s', (text, message) => {
    expect(() => parseQuotas(text)).toThrow(message)
  })
})

describe('quotaCounts', () => {
  it('scales fractions by K with largest remainders, summing to K', () => {
    expect(quotaCounts(DEFAULT_QUOTAS, 16)).toEqual({ring: 8, inside: 4, hard_delete: 2, far: 2})
    for (let k = 1; k < 40; k++) {
      const c = quotaCounts(DEFAULT_QUOTAS, k)
      expect(c.ring + c.inside + c.hard_delete + c.far).toBe(k)
    }
  })
  it('breaks equal remainders in priority order', () => {
    expect(quotaCounts(parseQuotas('ring=0.25,inside=0.25,hard=0.25,far=0.25'), 2)).toEqual({ring: 1, inside: 1, hard_delete: 0, far: 0})
  })
  it('takes counts as they are', () => {
    expect(quotaCounts(parseQuotas('ring=3,far=2'), 99)).toEqual({ring: 3, inside: 0, hard_delete: 0, far: 2})
  })
})

describe('samplePairs', () => {
  const rich = gridWith({inside: 20, ring: 20, hard_delete: 20})

  it('meets the quotas when the object has enough points, in raster order, no duplicates', () => {
    const s = samplePairs(rich, 16, DEFAULT_QUOTAS, 1)
    expect(tally(s.pairs)).toEqual({ring: 8, inside: 4, hard_delete: 2, far: 2})
    expect(s.shortfall).toEqual({})
    const idx = s.pairs.map(({point: [i, j]}) => j * 10 + i)
    expect(idx).toEqual([...new Set(idx)].sort((a, b) => a - b))
    for (const p of s.pairs) expect(p.region).toBe(rich.regions[p.point[1] * 10 + p.point[0]])
  })

  it('is the same for the same seed and differs for another', () => {
    const a = samplePairs(rich, 16, DEFAULT_QUOTAS, 42)
    expect(samplePairs(rich, 16, DEFAULT_QUOTAS, 42)).toEqual(a)
    expect(samplePairs(rich, 16, DEFAULT_QUOTAS, 43).pairs).not.toEqual(a.pairs)
  })

  it('hands a shortfall to the other regions in priority order and reports it', () => {
    // 1 inside, 3 ring: inside is 3 short, ring 5 short; the 8 missing go to hard, then far
    const s = samplePairs(gridWith({inside: 1, ring: 3, hard_delete: 5}), 16, DEFAULT_QUOTAS, 7)
    expect(tally(s.pairs)).toEqual({ring: 3, inside: 1, hard_delete: 5, far: 7})
    expect(s.shortfall).toEqual({ring: 5, inside: 3})
    expect(s.wanted).toEqual({ring: 8, inside: 4, hard_delete: 2, far: 2})
  })

  it('fills from ring first when inside is short', () => {
    const s = samplePairs(gridWith({inside: 1, ring: 30, hard_delete: 30}), 16, DEFAULT_QUOTAS, 7)
    expect(tally(s.pairs)).toEqual({ring: 11, inside: 1, hard_delete: 2, far: 2})
  })

  it('returns every point when K exceeds the grid', () => {
    const s = samplePairs(gridWith({ring: 2}, 3), 20, DEFAULT_QUOTAS, 0)
    expect(s.pairs).toHaveLength(9)
  })

  it('draws every point of a region about equally often', () => {
    const seen = new Array(100).fill(0)
    for (let seed = 0; seed < 2000; seed++) {
      for (const p of samplePairs(rich, 16, DEFAULT_QUOTAS, objectSeed(seed, 1, 2)).pairs) seen[p.point[1] * 10 + p.point[0]]++
    }
    const ringHits = rich.regions.flatMap((r, k) => (r === 'ring' ? [seen[k]] : []))
    // each ring point is drawn with probability 8/20 = 0.4: 800 of 2000 expected
    for (const h of ringHits) expect(Math.abs(h - 800)).toBeLessThan(120)
  })
})

describe('seeding', () => {
  it('mulberry32 is deterministic and in [0, 1)', () => {
    const a = mulberry32(5)
    const b = mulberry32(5)
    for (let k = 0; k < 1000; k++) {
      const v = a()
      expect(v).toBe(b())
      expect(v >= 0 && v < 1).toBe(true)
    }
  })
  it('objectSeed separates objects, ids and seeds, including ids past 2^32', () => {
    const seeds = new Set<number>()
    for (const s of [0, 1]) for (const img of [1, 2, 2 ** 32 + 1]) for (const ann of [1, 2, 3]) seeds.add(objectSeed(s, img, ann))
    expect(seeds.size).toBe(18)
    expect(objectSeed(3, 4, 5)).toBe(objectSeed(3, 4, 5))
  })
})
