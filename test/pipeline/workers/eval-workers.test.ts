import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'

// getok eval --workers N with the built CLI and the real model: the curated sample's own answers, scored by 1 and 2 workers.
const BIN = path.resolve('bin/run.js')
const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-eval-workers-${name}-`))

describe('eval --workers (CLI, real SAM)', () => {
  it('writes the same eval.jsonl, shards and summary with 2 workers as with 1', () => {
    const dir = tmp('in')
    const curated = readFileSync('fixtures/curated-sample/curate-00000-of-00001.jsonl', 'utf8').split('\n').filter(Boolean)
    const rows = curated.map((l) => JSON.parse(l)).map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.seg}))
    const file = path.join(dir, 'answers.jsonl')
    writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
    const run = (out: string, workers: number) => {
      const args = ['eval', file, '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '-o', out]
      const r = spawnSync(
        'node',
        [BIN, ...args, '--curated', 'fixtures/curated-sample', '--shard-size', '3', '--workers', String(workers), '--json'],
        {
          encoding: 'utf8',
        },
      )
      expect(r.status, r.stderr).toBe(0)
      return JSON.parse(r.stdout)
    }
    const [a, b] = [tmp('one'), tmp('two')]
    const ra = run(a, 1)
    const rb = run(b, 2)
    expect(ra.samples).toBe(rows.length)
    expect(ra.images).toBe(4)
    expect(rb.giou).toBe(ra.giou)
    const files = (d: string) =>
      readdirSync(d)
        .filter((f) => f !== 'manifest.json')
        .sort()
    expect(files(b)).toEqual(files(a))
    for (const f of files(a)) expect(readFileSync(path.join(b, f)).equals(readFileSync(path.join(a, f))), f).toBe(true)
    const manifest = (d: string) => ({...JSON.parse(readFileSync(path.join(d, 'manifest.json'), 'utf8')), created: null})
    expect(manifest(b)).toEqual(manifest(a))
  })
})
