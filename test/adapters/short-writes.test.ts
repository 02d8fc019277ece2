import {existsSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import type {FileHandle} from 'node:fs/promises'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {ShardWriter, shardFileName, verifiedShardStats} from '../../src/adapters/shards.js'
import {writeAll} from '../../src/adapters/write-all.js'
import {tempDirs} from '../helpers/temp-dirs.js'

// A short write (a full disk, `ulimit -f`) puts fewer bytes on disk than it was given. getok took each
// write as whole: the journal counted bytes the .partial never got, a resume extended the .partial over
// the gap with NUL bytes, and the shard was sealed with stats its bytes did not hold.
const tmp = tempDirs('getok-short-writes')
const shard = shardFileName('t', 0, 1)
const UNITS: object[][] = [[{a: 1}, {a: 2}], [{b: 'x'.repeat(50)}], [], [{c: 3}]]
const lineText = (records: object[]) => records.map((r) => JSON.stringify(r) + '\n').join('')
const WHOLE = UNITS.map(lineText).join('')
const UNIT1_END = Buffer.byteLength(lineText(UNITS[0]))
const UNIT2_END = UNIT1_END + Buffer.byteLength(lineText(UNITS[1]))

/** The four units written and journalled, the run stopped before the shard was closed: the .partial's path. */
async function interrupted(dir: string): Promise<string> {
  const w = await ShardWriter.open(dir, shard)
  for (const [k, records] of UNITS.entries()) await w.write(k + 1, records, [])
  await w.abandon()
  const partial = path.join(dir, `${shard}.partial`)
  expect(readFileSync(partial, 'utf8')).toBe(WHOLE)
  return partial
}

const journalUnits = (dir: string) =>
  readFileSync(path.join(dir, 't-00000-of-00001.journal'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as {unit: number}).unit)

/** Resume and write the units the writer does not hold; the finished shard's text. */
async function resumed(dir: string): Promise<string> {
  const w = await ShardWriter.open(dir, shard)
  for (const [k, records] of UNITS.entries()) if (!w.finishedUnits.has(k + 1)) await w.write(k + 1, records, [])
  const stats = await w.close()
  expect(stats.records).toBe(4)
  expect(await verifiedShardStats(dir, shard)).toEqual(stats)
  return readFileSync(path.join(dir, shard), 'utf8')
}

describe('a resume never extends a .partial shorter than its journal', () => {
  it('a .partial cut inside a journalled unit (a short write taken as whole): journal and file cut back to the unit before', async () => {
    const dir = tmp()
    const partial = await interrupted(dir)
    writeFileSync(partial, WHOLE.slice(0, UNIT1_END + 20))
    const w = await ShardWriter.open(dir, shard)
    expect([...w.finishedUnits]).toEqual([1])
    await w.abandon()
    expect(statSync(partial).size).toBe(UNIT1_END)
    expect(journalUnits(dir)).toEqual([1])
    expect(await resumed(dir)).toBe(WHOLE)
  })

  it('a .partial an older getok extended over the gap with NUL bytes and wrote on: cut back to the last unit it holds whole', async () => {
    const dir = tmp()
    const partial = await interrupted(dir)
    const gap = Buffer.alloc(UNIT2_END - UNIT1_END - 20)
    writeFileSync(partial, Buffer.concat([Buffer.from(WHOLE.slice(0, UNIT1_END + 20)), gap, Buffer.from(WHOLE.slice(UNIT2_END))]))
    const w = await ShardWriter.open(dir, shard)
    expect([...w.finishedUnits]).toEqual([1])
    await w.abandon()
    expect(statSync(partial).size).toBe(UNIT1_END)
    expect(await resumed(dir)).toBe(WHOLE)
  })

  it('a .partial holding every journalled unit and a cut line after them: every unit kept, the cut line dropped', async () => {
    const dir = tmp()
    const partial = await interrupted(dir)
    writeFileSync(partial, WHOLE + '{"d":')
    const w = await ShardWriter.open(dir, shard)
    expect([...w.finishedUnits]).toEqual([1, 2, 3, 4])
    await w.abandon()
    expect(await resumed(dir)).toBe(WHOLE)
  })
})

describe('a shard is sealed only with stats its bytes hold', () => {
  it('a .partial that lost bytes under the writer: close refuses, names it, and seals nothing', async () => {
    const dir = tmp()
    const w = await ShardWriter.open(dir, shard)
    for (const [k, records] of UNITS.entries()) await w.write(k + 1, records, [])
    const partial = path.join(dir, `${shard}.partial`)
    writeFileSync(partial, WHOLE.slice(0, UNIT2_END - 5))
    await expect(w.close()).rejects.toThrow(`${partial}: shard being written does not hold what its journal lists`)
    expect(existsSync(path.join(dir, shard))).toBe(false)
    expect(existsSync(path.join(dir, 't-00000-of-00001.stats.json'))).toBe(false)
  })

  it('.stats.json counting other records than its shard\'s bytes hold: says so, not "changed" with the same sha256 twice', async () => {
    const dir = tmp()
    const w = await ShardWriter.open(dir, shard)
    for (const [k, records] of UNITS.entries()) await w.write(k + 1, records, [])
    const stats = await w.close()
    const statsFile = path.join(dir, 't-00000-of-00001.stats.json')
    writeFileSync(statsFile, JSON.stringify({...stats, records: 6}))
    const error = (await verifiedShardStats(dir, shard).catch((e: unknown) => e)) as Error
    expect(error.message).toBe(
      `${path.join(dir, shard)}: finished shard does not hold the records its .stats.json counts (same bytes and sha256); ` +
        `delete ${shard} and t-00000-of-00001.stats.json to redo it, or rerun with --overwrite: ` +
        'expected 6 records (its .stats.json), got 4 lines',
    )
  })
})

describe('writeAll', () => {
  /** A file handle that takes at most `most` bytes a write, as a filling disk does. */
  const shortHandle = (most: number) => {
    const taken: Buffer[] = []
    const handle = {
      write: async (data: Uint8Array, offset: number, length: number) => {
        const n = Math.min(most, length)
        taken.push(Buffer.from(data.subarray(offset, offset + n)))
        return {bytesWritten: n, buffer: data}
      },
    }
    return {handle: handle as unknown as FileHandle, taken}
  }

  it('writes on after a short write until every byte is written', async () => {
    const {handle, taken} = shortHandle(3)
    await writeAll(handle, Buffer.from('{"a":"é"}\n'))
    expect(Buffer.concat(taken).toString('utf8')).toBe('{"a":"é"}\n')
    expect(taken.length).toBe(4)
  })

  it('a write that takes nothing fails instead of looping', async () => {
    const {handle} = shortHandle(0)
    await expect(writeAll(handle, Buffer.from('x'))).rejects.toThrow('no bytes written')
  })
})
