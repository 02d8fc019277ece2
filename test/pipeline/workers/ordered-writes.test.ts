import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {type UnitResult, runSharded} from '../../../src/pipeline/shared/sharded-run.js'
import {silentProgress} from '../../../src/pipeline/shared/progress.js'

// runSharded with units in flight at once: results finish out of order, the files are written in unit order.
interface Unit {
  id: number
}
const UNITS: Unit[] = Array.from({length: 11}, (_, k) => ({id: 100 + 7 * k}))
const tmp = () => mkdtempSync(path.join(tmpdir(), 'getok-ordered-'))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A unit's result after a delay that makes later units finish first (a fixed, uneven pattern). */
function slowUnits(failAt?: number) {
  let active = 0
  let most = 0
  const started: number[] = []
  const process = async (u: Unit): Promise<UnitResult<{id: number; k: number}>> => {
    started.push(u.id)
    most = Math.max(most, ++active)
    await sleep([40, 5, 25, 1, 60, 3, 15, 30, 2, 10, 20][(u.id - 100) / 7])
    active--
    if (u.id === failAt) throw new Error(`unit ${u.id} failed`)
    const records = Array.from({length: u.id % 3}, (_, k) => ({id: u.id, k}))
    return {records, skips: u.id % 4 === 0 ? [{image_id: u.id, reason: 'odd'}] : []}
  }
  return {process, most: () => most, started}
}

const files = (dir: string) =>
  new Map(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  )

const journalUnits = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.journal'))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l).unit as number)

describe('runSharded with units in flight', () => {
  it('writes the same files with 4 units in flight as with 1, while really running 4 at once', async () => {
    const [a, b] = [tmp(), tmp()]
    const one = slowUnits()
    const four = slowUnits()
    const ra = await runSharded(UNITS, {outDir: a, name: 'x', shardSize: 4}, one.process, silentProgress)
    const rb = await runSharded(UNITS, {outDir: b, name: 'x', shardSize: 4, inFlight: 4}, four.process, silentProgress)
    expect(one.most()).toBe(1)
    expect(four.most()).toBe(4)
    expect(files(b)).toEqual(files(a))
    expect([...files(a).keys()]).toHaveLength(6)
    expect(rb).toEqual(ra)
    expect(rb.shards.map((s) => s.units)).toEqual([4, 4, 3])
    const lines = readFileSync(path.join(b, 'x-00000-of-00003.jsonl'), 'utf8').split('\n').filter(Boolean)
    expect(lines.map((l) => JSON.parse(l).id)).toEqual([100, 107, 107, 121])
  })

  it('on a failure journals exactly the units before it, in order, and a resumed run gives the uninterrupted bytes', async () => {
    const [whole, cut] = [tmp(), tmp()]
    await runSharded(UNITS, {outDir: whole, name: 'x', shardSize: 4}, slowUnits().process, silentProgress)
    const failing = slowUnits(142)
    await expect(runSharded(UNITS, {outDir: cut, name: 'x', shardSize: 4, inFlight: 3}, failing.process, silentProgress)).rejects.toThrow(
      'unit 142 failed',
    )
    // units after 142 were started (and some finished) but nothing after it was written
    expect(failing.started.some((id) => id > 142)).toBe(true)
    expect(journalUnits(cut)).toEqual([128, 135])
    expect(readdirSync(cut)).toContain('x-00000-of-00003.stats.json')
    const resumed = await runSharded(UNITS, {outDir: cut, name: 'x', shardSize: 4, inFlight: 2}, slowUnits().process, silentProgress)
    expect(resumed.resumed).toBe(6)
    expect(files(cut)).toEqual(files(whole))
  })

  it('with one unit in flight starts a unit only once the one before is written', async () => {
    const order: string[] = []
    const dir = tmp()
    await runSharded(
      UNITS.slice(0, 3),
      {outDir: dir, name: 'x', shardSize: 2, inFlight: 1},
      async (u) => {
        order.push(`start ${u.id} after ${journalUnits(dir).length} journalled`)
        return {records: [{id: u.id}], skips: []}
      },
      silentProgress,
    )
    expect(order).toEqual(['start 100 after 0 journalled', 'start 107 after 1 journalled', 'start 114 after 2 journalled'])
  })
})
