// The batcher's scheduling, on its own: the scoring it schedules is a stand-in that records what it
// was given (the SAM scoring it runs in the server is tested on real SAM in serve.test.ts).
import pLimit from 'p-limit'
import {describe, expect, it} from 'vitest'
import {ImageBatcher} from '../../../src/pipeline/serve/batcher.js'

function recorder(delayMs = 20) {
  const runs: {image: string; items: number[]}[] = []
  const run = async (image: string, items: number[]) => {
    runs.push({image, items: [...items]})
    await new Promise((r) => setTimeout(r, delayMs))
    return items.map((i) => i * 10)
  }
  return {runs, run}
}

describe('ImageBatcher', () => {
  it('samples of one image added together run as one job; other images get their own', async () => {
    const {runs, run} = recorder()
    const b = new ImageBatcher(pLimit(1), 0, run)
    const results = await Promise.all([b.add('A', 'A', 1), b.add('A', 'A', 2), b.add('B', 'B', 3), b.add('A', 'A', 4)])
    expect(results).toEqual([10, 20, 30, 40])
    expect(runs).toEqual([
      {image: 'A', items: [1, 2, 4]},
      {image: 'B', items: [3]},
    ])
    expect(b.stats()).toEqual({batches: 2, batched: 4, dropped: 0, queued: 0, running: 0})
  })

  it('while a job runs, what arrives for its image waits in the next job: whatever is queued when SAM frees up', async () => {
    const {runs, run} = recorder(50)
    const b = new ImageBatcher(pLimit(1), 0, run)
    const first = b.add('A', 'A', 1)
    await new Promise((r) => setTimeout(r, 10)) // the first job has started
    const later = [2, 3, 4].map((i) => b.add('A', 'A', i))
    expect(b.stats().queued).toBe(4)
    await Promise.all([first, ...later])
    expect(runs.map((r) => r.items)).toEqual([[1], [2, 3, 4]])
  })

  it('a collection window gathers samples that arrive within it', async () => {
    const {runs, run} = recorder(5)
    const b = new ImageBatcher(pLimit(1), 40, run)
    const early = b.add('A', 'A', 1)
    await new Promise((r) => setTimeout(r, 10))
    await Promise.all([early, b.add('A', 'A', 2)])
    expect(runs.map((r) => r.items)).toEqual([[1, 2]])
  })

  it('at most `concurrency` jobs run at once', async () => {
    let running = 0
    let most = 0
    const b = new ImageBatcher(pLimit(2), 0, async (_: string, items: number[]) => {
      most = Math.max(most, ++running)
      await new Promise((r) => setTimeout(r, 15))
      running--
      return items
    })
    await Promise.all(['A', 'B', 'C', 'D', 'E'].map((k, i) => b.add(k, k, i)))
    expect(most).toBe(2)
  })

  it('samples whose request gave up before their job started are dropped, not scored, with the reason it gave up', async () => {
    const {runs, run} = recorder(30)
    const b = new ImageBatcher(pLimit(1), 0, run)
    const busy = b.add('A', 'A', 1)
    const gone = new AbortController()
    const dropped = b.add('B', 'B', 2, gone.signal)
    const kept = b.add('B', 'B', 3)
    const reason = new Error('the client closed the connection')
    gone.abort(reason)
    await expect(dropped).rejects.toBe(reason)
    expect(await Promise.all([busy, kept])).toEqual([10, 30])
    expect(runs.map((r) => r.items)).toEqual([[1], [3]])
    expect(b.stats().dropped).toBe(1)
  })

  it('a job scores `slice` samples at a time: a request given up while its job runs stops there; the others are scored', async () => {
    const gone = new AbortController()
    const runs: number[][] = []
    const b = new ImageBatcher(
      pLimit(1),
      0,
      async (_: string, items: number[]) => {
        runs.push(items)
        if (runs.length === 1) gone.abort(new Error('timed out')) // the request gives up during the first slice
        return items.map((i) => i * 10)
      },
      2,
    )
    const given = [1, 2, 3, 4, 5].map((i) => b.add('A', 'A', i, gone.signal))
    const other = [6, 7, 8].map((i) => b.add('A', 'A', i))
    const settled = await Promise.allSettled([...given, ...other])
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([
      10,
      20,
      'timed out',
      'timed out',
      'timed out',
      60,
      70,
      80,
    ])
    expect(runs).toEqual([[1, 2], [6, 7], [8]])
    expect(b.stats()).toEqual({batches: 1, batched: 5, dropped: 3, queued: 0, running: 0})
  })

  it("a job's failure fails each of its samples and no other job; drained() waits for the last", async () => {
    const b = new ImageBatcher(pLimit(1), 0, async (image: string, items: number[]) => {
      await new Promise((r) => setTimeout(r, 10))
      if (image === 'bad') throw new Error('cannot decode')
      return items
    })
    const bad = [b.add('bad', 'bad', 1), b.add('bad', 'bad', 2)]
    const good = b.add('good', 'good', 3)
    let drained = false
    const idle = b.drained().then(() => (drained = true))
    expect(drained).toBe(false)
    await Promise.all(bad.map((p) => expect(p).rejects.toThrow('cannot decode')))
    expect(await good).toBe(3)
    await idle
    expect(b.stats().queued).toBe(0)
  })
})
