import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, readdirSync, writeFileSync, appendFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {
  ShardWriter,
  readShardStats,
  shardFileName,
  verifiedShardStats,
  writeFileAtomic,
  writeFileAtomicChunks,
} from '../../src/adapters/shards.js'
import {GetokError} from '../../src/core/errors.js'
import {latin1E} from '../helpers/latin1.js'

describe('shards', () => {
  it('names shards as <name>-00003-of-00008.jsonl', () => {
    expect(shardFileName('curate', 3, 8)).toBe('curate-00003-of-00008.jsonl')
  })

  it('resumes after a crash without keeping a half-written line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const shard = shardFileName('t', 0, 1)
    const w1 = await ShardWriter.open(dir, shard)
    await w1.write(1, [{a: 1}, {a: 2}], [])
    await w1.write(2, [], [{image_id: 2, ann_id: 9, reason: 'zero-area mask'}])
    await w1.abandon()
    // the crash: unit 3's records reached the file, its journal line did not
    appendFileSync(path.join(dir, `${shard}.partial`), '{"a":3}\n{"a":')
    expect(await readShardStats(dir, shard)).toBeNull()

    const w2 = await ShardWriter.open(dir, shard)
    expect([...w2.finishedUnits]).toEqual([1, 2])
    await w2.write(3, [{a: 3}], [])
    const stats = await w2.close()
    expect(readFileSync(path.join(dir, shard), 'utf8')).toBe('{"a":1}\n{"a":2}\n{"a":3}\n')
    expect(stats.records).toBe(3)
    expect(stats.units).toBe(3)
    expect(stats.skips).toEqual([{image_id: 2, ann_id: 9, reason: 'zero-area mask'}])
    expect(existsSync(path.join(dir, `${shard}.partial`))).toBe(false)
    expect(await readShardStats(dir, shard)).toEqual(stats)
  })

  it('ignores a journal line cut by a crash', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const shard = shardFileName('t', 0, 1)
    const w1 = await ShardWriter.open(dir, shard)
    await w1.write(5, [{b: 1}], [])
    await w1.abandon()
    appendFileSync(path.join(dir, shard.replace('.jsonl', '.journal')), '{"unit":6,"by')
    const w2 = await ShardWriter.open(dir, shard)
    expect([...w2.finishedUnits]).toEqual([5])
    await w2.close()
    expect(readFileSync(path.join(dir, shard), 'utf8')).toBe('{"b":1}\n')
  })

  it('starts over when the journal is gone', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const shard = shardFileName('t', 0, 1)
    writeFileSync(path.join(dir, `${shard}.partial`), '{"stale":true}\n')
    const w = await ShardWriter.open(dir, shard)
    expect(w.finishedUnits.size).toBe(0)
    await w.write(1, [{c: 1}], [])
    await w.close()
    expect(readFileSync(path.join(dir, shard), 'utf8')).toBe('{"c":1}\n')
  })

  describe('a finished shard is checked against its .stats.json before a resumed run keeps it', async () => {
    // the first finished shard of fixtures/curated-sample, written through the writer as a run does
    const records = readFileSync('fixtures/curated-sample/curate-00000-of-00001.jsonl', 'utf8').split('\n').filter(Boolean).slice(0, 3)
    const finished = async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
      const shard = shardFileName('curate', 0, 1)
      const w = await ShardWriter.open(dir, shard)
      await w.write(
        1,
        records.map((r) => JSON.parse(r)),
        [],
      )
      return {dir, shard, file: path.join(dir, shard), stats: await w.close()}
    }

    it('an untouched shard: its stats', async () => {
      const {dir, shard, stats} = await finished()
      expect(await verifiedShardStats(dir, shard)).toEqual(stats)
    })

    it.each([
      [
        'one record edited (same line count)',
        (t: string) => t.replace('"iou":', '"iou":0.99,"was":'),
        /^3 records, \d+ bytes, sha256 [0-9a-f]{16}$/,
      ],
      ['cut to two records', (t: string) => t.split('\n').slice(0, 2).join('\n') + '\n', /^2 records, /],
    ])('%s: refused, naming the shard and how to redo it', async (_, edit, got) => {
      const {dir, shard, file, stats} = await finished()
      writeFileSync(file, edit(readFileSync(file, 'utf8')))
      const error = await verifiedShardStats(dir, shard).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(GetokError)
      expect((error as GetokError).message).toMatch(
        new RegExp(
          `^${file}: finished shard changed since it was written; delete curate-00000-of-00001\\.jsonl and ` +
            `curate-00000-of-00001\\.stats\\.json to redo it, or rerun with --overwrite: ` +
            `expected 3 records, ${stats.bytes} bytes, sha256 ${stats.sha256.slice(0, 16)} \\(its \\.stats\\.json\\), got `,
        ),
      )
      const found = (error as GetokError).got!
      expect(found).toMatch(got)
      expect(found).not.toContain(stats.sha256.slice(0, 16))
    })

    it('a .stats.json that is not JSON: refused the same way, not a SyntaxError', async () => {
      const {dir, shard} = await finished()
      writeFileSync(path.join(dir, 'curate-00000-of-00001.stats.json'), '{"records": 3,')
      await expect(verifiedShardStats(dir, shard)).rejects.toThrow(/stats\.json: cannot read a finished shard's stats .*to redo it/)
    })

    it('a .stats.json with a byte that is not UTF-8: refused naming the line, not kept with U+FFFD in a skip reason', async () => {
      const {dir, shard, stats} = await finished()
      const file = path.join(dir, 'curate-00000-of-00001.stats.json')
      writeFileSync(file, latin1E(JSON.stringify({...stats, skips: [{image_id: 1, ann_id: 2, reason: 'café'}]}, null, 1)))
      await expect(verifiedShardStats(dir, shard)).rejects.toThrow(
        /stats\.json: cannot read a finished shard's stats \(invalid UTF-8 at line 11, column \d+ \(byte \d+\): bytes 0xe9 0x22 .*\); delete/,
      )
    })
  })

  it('writeFileAtomic names the file it cannot write and leaves no temporary file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const file = path.join(dir, 'missing', 'x.txt')
    await expect(writeFileAtomic(file, 'x')).rejects.toThrow(new GetokError('cannot write the file (ENOENT)', {file}))
  })
  it('writeFileAtomicChunks writes chunks larger than its buffer in order, UTF-8 whole, and returns bytes and sha256', async () => {
    // export streams each data file this way: at COCO scale one file is more than a JavaScript string holds
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const file = path.join(dir, 'data.jsonl')
    const chunks = ['é'.repeat(700_000), '{"a":"ü"}\n', 'x'.repeat(1 << 20), '→\n']
    const result = await writeFileAtomicChunks(file, chunks)
    const bytes = readFileSync(file)
    expect(bytes.toString('utf8')).toBe(chunks.join(''))
    expect(result).toEqual({bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex')})
    expect(readdirSync(dir)).toEqual(['data.jsonl'])
  })

  it('writeFileAtomicChunks: a chunk that fails leaves neither the file nor a temporary file, with its error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-shard-'))
    const chunks = function* () {
      yield 'x'.repeat(2 << 20)
      throw new GetokError('token outside the exported vocabulary', {file: 'swift-train.jsonl'})
    }
    await expect(writeFileAtomicChunks(path.join(dir, 'data.jsonl'), chunks())).rejects.toThrow('token outside the exported vocabulary')
    expect(readdirSync(dir)).toEqual([])
  })
})
