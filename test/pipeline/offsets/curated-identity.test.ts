import {spawnSync} from 'node:child_process'
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {manifestOf, shardTexts} from '../../helpers/run-folder.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// offsets --curated records the curated folder by what it holds (curated_sha256), not where it was: merge
// and resume compare the hash, so workers may read the same records through other paths (no SAM).
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '--grid', '16', '--seed', '3']
const CURATED = 'fixtures/curated-sample'
const SHARD = 'curate-00000-of-00001.jsonl'

const tmp = tempDirs('getok-curated-id')

const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
const offsets = (args: string[]) => getok(['offsets', ...SAMPLE, ...args])

const recordsOf = (dir: string) =>
  shardTexts(dir)
    .flatMap(([, text]) => text.split('\n').filter(Boolean))
    .sort((a, b) => JSON.parse(a).ann_id - JSON.parse(b).ann_id)
/** a copy of the curated fixture at `dir`, its shard's lines edited by `edit` */
const curatedCopy = (dir: string, edit: (lines: string[]) => string[] = (l) => l) => {
  cpSync(CURATED, dir, {recursive: true})
  const lines = readFileSync(path.join(dir, SHARD), 'utf8').split('\n').filter(Boolean)
  writeFileSync(path.join(dir, SHARD), edit(lines).join('\n') + '\n')
  return dir
}

describe('offsets --curated: the curated records are identified by their hash, the path kept for information', () => {
  it('merges workers that read the same curated records through other paths (a relative one, a copy elsewhere)', () => {
    // before: "not the same run: config.curated is "fixtures/curated-sample" in …/w0 but "/tmp/…/copy" here"
    const root = tmp()
    const [w0, w1, single, out] = ['w0', 'w1', 'single', 'out'].map((n) => path.join(root, n))
    const copy = curatedCopy(path.join(root, 'machine-b', 'curated'))
    const split = (k: number) => ['--shard-index', String(k), '--shard-count', '2']
    for (const [k, dir, curated] of [[0, w0, CURATED] as const, [1, w1, copy] as const]) {
      const r = offsets(['--curated', curated, '-o', dir, ...split(k)])
      expect(r.status, r.stderr).toBe(0)
    }
    expect(offsets(['--curated', CURATED, '-o', single]).status).toBe(0)
    const hash = manifestOf(single).config.curated_sha256
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect([w0, w1].map((d) => manifestOf(d).config.curated_sha256)).toEqual([hash, hash])

    const r = getok(['merge', w0, w1, '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    expect(recordsOf(out)).toEqual(recordsOf(single))
    expect(recordsOf(out).filter((l) => JSON.parse(l).curated_seg !== null).length).toBeGreaterThan(0)
    // the paths stay, for information: each worker's, in worker order
    const {curated, ...config} = manifestOf(out).config
    expect(curated).toEqual([CURATED, copy])
    expect(config).toEqual({...manifestOf(single).config, curated: undefined})
  })

  it('refuses to merge workers that read other curated records, naming the hash', () => {
    const root = tmp()
    const [w0, w1] = ['w0', 'w1'].map((n) => path.join(root, n))
    const fewer = curatedCopy(path.join(root, 'fewer'), (lines) => lines.slice(1))
    expect(offsets(['--curated', CURATED, '-o', w0, '--shard-index', '0', '--shard-count', '2']).status).toBe(0)
    expect(offsets(['--curated', fewer, '-o', w1, '--shard-index', '1', '--shard-count', '2']).status).toBe(0)
    const r = getok(['merge', w0, w1, '-o', path.join(root, 'out')])
    expect(r.status).toBe(2)
    expect(r.stderr.replace(/\s+/g, ' ')).toMatch(
      /field "config\.curated_sha256": not the same run: config\.curated_sha256 is "[0-9a-f]{64}"/,
    )
  })

  it('resumes with the curated folder moved, and refuses curated records changed since the folder was begun', () => {
    // before: a moved folder was refused ("curated: … → …"), and changed records in the same folder resumed,
    // joining the images done before with the old records and the rest with the new
    const root = tmp()
    const [run, whole] = ['run', 'whole'].map((n) => path.join(root, n))
    const first = curatedCopy(path.join(root, 'first'))
    expect(offsets(['--curated', CURATED, '--shard-size', '1', '-o', whole]).status).toBe(0)
    expect(offsets(['--curated', first, '--shard-size', '1', '-o', run]).status).toBe(0)
    const last = shardTexts(run).at(-1)![0]
    rmSync(path.join(run, last))
    rmSync(path.join(run, last.replace(/\.jsonl$/, '.stats.json')))
    const moved = path.join(root, 'moved')
    cpSync(first, moved, {recursive: true})
    rmSync(first, {recursive: true})
    const resumed = offsets(['--curated', moved, '--shard-size', '1', '-o', run, '--json'])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).resumed).toBe(3)
    expect(shardTexts(run)).toEqual(shardTexts(whole))
    expect(manifestOf(run).config).toEqual({...manifestOf(whole).config, curated: moved})

    writeFileSync(path.join(moved, SHARD), readFileSync(path.join(moved, SHARD), 'utf8').split('\n').slice(1).join('\n'))
    const before = shardTexts(run)
    const changed = offsets(['--curated', moved, '--shard-size', '1', '-o', run])
    expect(changed.status).toBe(2)
    expect(changed.stderr.replace(/\s+/g, ' ')).toMatch(/different configuration \(curated_sha256: "[0-9a-f]{64}" → "[0-9a-f]{64}"\)/)
    expect(shardTexts(run)).toEqual(before)
  })
})
