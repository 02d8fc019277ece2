import {spawnSync} from 'node:child_process'
import {readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {tempDirs} from '../helpers/temp-dirs.js'

// Resuming a folder with other settings (src/pipeline/shared/run-settings.ts): --batch cannot change a
// record and may change; --shard-size cuts the finished shards and may not, and the refusal says what resumes.
const BIN = path.resolve('bin/run.js')

const tmp = tempDirs('getok-resume-settings')

const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
/** every file of the folder but run.json and manifest.json (they hold the settings and the time), with its bytes */
const filesOf = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f !== 'run.json' && f !== 'manifest.json')
    .sort()
    .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')])
/** the folder with its last shard gone (its .jsonl and .stats.json), as a run killed before it wrote it leaves it */
const dropLastShard = (dir: string) => {
  const last = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .at(-1)!
  for (const f of [last, last.replace(/\.jsonl$/, '.stats.json')]) rmSync(path.join(dir, f))
}

describe('resuming a folder with other settings', () => {
  it('curate resumes with another --batch (real SAM), writing the bytes one run writes', () => {
    // before: "output folder was made with a different configuration (batch: 1 → 4); use another --out or --overwrite"
    const curate = ['curate', '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--threads', '1']
    const args = [...curate, '--image-ids', '443303,184321', '--shard-size', '1']
    const dir = path.join(tmp(), 'run')
    const first = getok([...args, '--batch', '1', '-o', dir])
    expect(first.status, first.stderr).toBe(0)
    const whole = filesOf(dir)
    dropLastShard(dir)
    const resumed = getok([...args, '--batch', '4', '-o', dir, '--json'])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).resumed).toBe(1)
    expect(filesOf(dir)).toEqual(whole)
    expect(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')).config.batch).toBe(4)
  })

  it('offsets refuses to resume with another --shard-size, naming the value that resumes, and loses nothing', () => {
    // before: "(shard_size: 1 → 1000); use another --out or --overwrite", without the value to resume with
    const offsets = ['offsets', '-a', 'fixtures/sample/instances.json', '--grid', '16']
    const dir = path.join(tmp(), 'run')
    expect(getok([...offsets, '--shard-size', '1', '-o', dir]).status).toBe(0)
    const whole = filesOf(dir)
    dropLastShard(dir)
    const kept = filesOf(dir)
    for (const size of [[], ['--shard-size', '2']]) {
      const r = getok([...offsets, ...size, '-o', dir])
      expect(r.status).toBe(2)
      expect(r.stderr.replace(/\s+/g, ' ')).toMatch(/\(its finished shards hold 1 image each: resume with --shard-size 1\)/)
      expect(filesOf(dir)).toEqual(kept)
    }
    const resumed = getok([...offsets, '--shard-size', '1', '-o', dir, '--json'])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).resumed).toBe(3)
    expect(filesOf(dir)).toEqual(whole)
  })
})

/** A configuration as getok ≤ 0.4.0 wrote curate's: its options in code spelling, include_crowd a second time at the end. */
const legacyConfig = (config: Record<string, unknown>) => {
  const {max_tokens, include_crowd, token_style, ...rest} = config
  const {shard_size, model, ...options} = rest
  return {...options, maxTokens: max_tokens, includeCrowd: include_crowd, tokenStyle: token_style, shard_size, include_crowd, model}
}
const rewriteJson = (file: string, edit: (json: any) => any) =>
  writeFileSync(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8'))), null, 2))

describe('curate settings under one spelling', () => {
  it('writes each setting once in snake_case; folders begun by 0.4.0 in its spellings still resume and merge (real SAM)', () => {
    // before: config held maxTokens, includeCrowd and include_crowd, tokenStyle beside shard_size
    const curate = ['curate', '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--threads', '1']
    const [a, b, merged] = ['a', 'b', 'merged'].map((d) => path.join(tmp(), d))
    expect(getok([...curate, '--image-ids', '443303', '-o', a]).status).toBe(0)
    expect(getok([...curate, '--image-ids', '184321', '-o', b]).status).toBe(0)
    const config = JSON.parse(readFileSync(path.join(a, 'manifest.json'), 'utf8')).config
    expect(Object.keys(config).filter((k) => /[A-Z]/.test(k))).toEqual([])
    expect(config).toMatchObject({max_tokens: 64, include_crowd: false, token_style: 'plain', shard_size: 1000})
    expect(JSON.parse(readFileSync(path.join(a, 'run.json'), 'utf8'))).toMatchObject({max_tokens: 64, include_crowd: false})

    // a's run.json and b's manifest as 0.4.0 wrote them
    rewriteJson(path.join(a, 'run.json'), ({tool_version, ...c}) => ({tool_version, ...legacyConfig(c)}))
    rewriteJson(path.join(b, 'manifest.json'), (m) => ({...m, config: legacyConfig(m.config)}))
    const before = filesOf(a)
    const rerun = getok([...curate, '--image-ids', '443303', '-o', a, '--json'])
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(filesOf(a)).toEqual(before)

    const merge = getok(['merge', a, b, '-o', merged, '--json'])
    expect(merge.status, merge.stderr).toBe(0)
    const mergedConfig = JSON.parse(readFileSync(path.join(merged, 'manifest.json'), 'utf8')).config
    expect(Object.keys(mergedConfig).filter((k) => /[A-Z]/.test(k))).toEqual([])
    expect(mergedConfig).toMatchObject({max_tokens: 64, include_crowd: false, token_style: 'plain', annotations_images: 2})
  })
})
