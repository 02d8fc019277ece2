import {describe, expect, it} from 'vitest'
import {ByteLru} from '../../src/server/lru.js'
import {HttpStats, percentile} from '../../src/server/stats.js'
import {depthExceeds} from '../../src/server/body.js'

describe('ByteLru: bounded by bytes, least recently used first out', () => {
  it('evicts the oldest entries until the total fits; a get makes an entry the newest', () => {
    const lru = new ByteLru<string>(10)
    lru.set('a', 'A', 4)
    lru.set('b', 'B', 4)
    expect(lru.get('a')).toBe('A') // a is now newer than b
    lru.set('c', 'C', 4) // 12 > 10: b goes
    expect(lru.has('b')).toBe(false)
    expect([lru.has('a'), lru.has('c')]).toEqual([true, true])
    expect(lru.stats()).toEqual({entries: 2, bytes: 8, capacity_bytes: 10, hits: 1, misses: 0, evictions: 1})
    expect(lru.get('b')).toBeUndefined()
    expect(lru.stats().misses).toBe(1)
  })

  it('a value larger than the budget is not stored (and evicts nothing); re-setting a key replaces its size', () => {
    const lru = new ByteLru<number>(10)
    lru.set('a', 1, 6)
    lru.set('big', 2, 11)
    expect([lru.has('a'), lru.has('big')]).toEqual([true, false])
    lru.set('a', 3, 2)
    expect(lru.stats().bytes).toBe(2)
    lru.set('b', 4, 8)
    expect(lru.stats()).toMatchObject({entries: 2, bytes: 10, evictions: 0})
  })

  it('a zero budget stores nothing', () => {
    const lru = new ByteLru<number>(0)
    lru.set('a', 1, 1)
    expect(lru.stats().entries).toBe(0)
  })
})

describe('latency percentiles (nearest rank)', () => {
  it.each([
    [[5], 50, 5],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 99, 4],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 91, 10],
  ])('%j p%d = %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected)
  })

  it('HttpStats: p50/p90/p99 of recorded latencies; errors count statuses ≥ 400', () => {
    const s = new HttpStats()
    for (let ms = 1; ms <= 100; ms++) s.scoreLatency(ms)
    expect(s.latency()).toEqual({count: 100, p50: 50, p90: 90, p99: 99, max: 100})
    ;[200, 200, 400, 413, 503].forEach((c) => s.answered(c))
    expect(s.status).toEqual({200: 2, 400: 1, 413: 1, 503: 1})
    expect(s.errors).toBe(3)
    expect(new HttpStats().latency()).toEqual({count: 0, p50: null, p90: null, p99: null, max: null})
  })
})

describe('depthExceeds: iterative, so no nesting overflows it', () => {
  it.each([
    [1, 0, false],
    [[], 1, false],
    [[], 0, true],
    [{a: [[1]]}, 3, false],
    [{a: [[1]]}, 2, true],
  ])('%j within %d: %s', (value, max, expected) => {
    expect(depthExceeds(value, max)).toBe(expected)
  })

  it('100 000 levels', () => {
    const deep = JSON.parse('['.repeat(1e5) + ']'.repeat(1e5))
    expect(depthExceeds(deep, 32)).toBe(true)
  })
})
