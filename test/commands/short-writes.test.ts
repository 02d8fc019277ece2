import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {manifestOf, shardTexts} from '../helpers/run-folder.js'
import {tempDirs} from '../helpers/temp-dirs.js'

// A full disk, played by a file-size limit (`ulimit -f`, 1024-byte blocks in bash): a write past it puts
// what fits on disk and the next fails with EFBIG (node ignores SIGXFSZ). getok took the short write as
// whole: exit 0 with a cut shard or export file sealed under stats and a manifest it does not match.
const BIN = path.resolve('bin/run.js')
const tmp = tempDirs('getok-short-writes')

const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
const limited = (blocks: number, args: string[]) =>
  spawnSync('bash', ['-c', `ulimit -f ${blocks}; exec node "$0" "$@"`, BIN, ...args], {encoding: 'utf8'})
const size = (dir: string, file: string) => statSync(path.join(dir, file)).size
const json = (dir: string, file: string) => JSON.parse(readFileSync(path.join(dir, file), 'utf8'))

/** Every byte count the folder's files claim (a shard's .stats.json, a journal's last line, the manifest) is there. */
function claimsHeld(dir: string): void {
  const files = readdirSync(dir)
  expect(files.filter((f) => f.includes('.tmp-'))).toEqual([])
  for (const f of files.filter((g) => g.endsWith('.stats.json'))) {
    const stats = json(dir, f) as {shard: string; bytes: number; records: number}
    expect(size(dir, stats.shard)).toBe(stats.bytes)
    expect(readFileSync(path.join(dir, stats.shard), 'utf8').split('\n').length - 1).toBe(stats.records)
  }
  for (const f of files.filter((g) => g.endsWith('.journal'))) {
    const last = readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).at(-1)
    const partial = f.replace(/\.journal$/, '.jsonl.partial')
    if (last) expect(size(dir, partial)).toBeGreaterThanOrEqual((JSON.parse(last) as {bytes: number}).bytes)
  }
  if (!files.includes('manifest.json')) return
  for (const s of manifestOf(dir).shards as {file: string; bytes: number}[]) expect(size(dir, s.file)).toBe(s.bytes)
}

/** One line on stderr, exit 2: `Error: <file>: cannot write the file (EFBIG)`. */
function refusedNaming(r: ReturnType<typeof spawnSync>, file: string): void {
  expect(r.status).toBe(2)
  expect(String(r.stderr).trim()).toBe(`Error: ${file}: cannot write the file (EFBIG)`)
}

describe('offsets on a disk that fills inside the last shard', () => {
  const args = ['offsets', '-a', 'fixtures/sample/instances.json', '--shard-size', '2', '--seed', '3']
  const full = tmp('full')
  beforeAll(() => expect(getok([...args, '-o', full]).status).toBe(0))

  it('exit 2 naming the .partial, no file shorter than claimed; a resume without the limit writes the uninterrupted bytes', () => {
    const [first, last] = shardTexts(full).map(([f]) => f)
    // room for the first shard whole, not for the last
    const blocks = Math.ceil(size(full, first) / 1024)
    expect(blocks * 1024).toBeLessThan(size(full, last))
    const out = tmp('cut')
    refusedNaming(limited(blocks, [...args, '-o', out]), path.join(out, `${last}.partial`))
    claimsHeld(out)
    expect(existsSync(path.join(out, last))).toBe(false)
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)

    expect(getok([...args, '-o', out]).status).toBe(0)
    claimsHeld(out)
    expect(shardTexts(out)).toEqual(shardTexts(full))
    for (const f of readdirSync(full).filter((g) => g.endsWith('.stats.json'))) expect(json(out, f)).toEqual(json(full, f))
    expect(manifestOf(out).shards).toEqual(manifestOf(full).shards)
  })
})

describe('export on a disk that fills inside its data file', () => {
  const args = ['export', '--curated', 'fixtures/curated-sample', '--offsets', 'fixtures/offsets-sample', '--format', 'swift']
  const full = tmp('full')
  beforeAll(() => expect(getok([...args, '-o', full]).status).toBe(0))

  it('exit 2 naming the file, nothing cut renamed into place; a rerun without the limit writes the uninterrupted bytes', () => {
    const data = 'swift-train.jsonl'
    // room for every other file, not for the data file
    const blocks = Math.ceil(
      Math.max(
        ...readdirSync(full)
          .filter((f) => f !== data)
          .map((f) => size(full, f)),
      ) / 1024,
    )
    expect(blocks * 1024).toBeLessThan(size(full, data))
    const out = tmp('cut')
    refusedNaming(limited(blocks, [...args, '-o', out]), path.join(out, data))
    claimsHeld(out)
    expect(existsSync(path.join(out, data))).toBe(false)

    expect(getok([...args, '-o', out]).status).toBe(0)
    claimsHeld(out)
    expect(readdirSync(out).sort()).toEqual(readdirSync(full).sort())
    for (const f of [data, 'vocab.txt']) expect(readFileSync(path.join(out, f))).toEqual(readFileSync(path.join(full, f)))
    expect(manifestOf(out).shards).toEqual(manifestOf(full).shards)
  })
})
