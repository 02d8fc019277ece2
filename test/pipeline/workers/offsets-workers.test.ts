import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'

// getok offsets --workers N with the built CLI (npm test builds first): no SAM, so the whole tiny-coco val file.
const BIN = path.resolve('bin/run.js')
const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-offsets-workers-${name}-`))

function offsets(out: string, workers: number, args: string[]) {
  const r = spawnSync('node', [BIN, 'offsets', ...args, '-o', out, '--workers', String(workers), '--json'], {encoding: 'utf8'})
  expect(r.status, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

const filesOf = (dir: string) =>
  new Map(
    readdirSync(dir)
      .filter((f) => f !== 'manifest.json')
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f))]),
  )

const manifestOf = (dir: string) => {
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  delete m.created
  return m
}

describe('offsets --workers (CLI)', () => {
  it('writes the same shard files and manifest with 3 workers as with 1, over 50 images in 8 shards', () => {
    const args = ['-a', 'fixtures/coco/instances_val2017.json', '--shard-size', '7']
    const [a, b] = [tmp('one'), tmp('three')]
    const ra = offsets(a, 1, args)
    const rb = offsets(b, 3, args)
    expect(ra.images).toBe(50)
    expect(rb.summary).toEqual(ra.summary)
    const [fa, fb] = [filesOf(a), filesOf(b)]
    expect([...fa.keys()].filter((f) => f.endsWith('.jsonl'))).toHaveLength(8)
    expect([...fb.keys()]).toEqual([...fa.keys()])
    for (const [name, bytes] of fa) expect(fb.get(name)!.equals(bytes), name).toBe(true)
    expect(manifestOf(b)).toEqual(manifestOf(a))
  })

  it('joins --curated records in the workers as in one process', () => {
    const args = [
      '-a',
      'fixtures/sample/instances.json',
      '-i',
      'fixtures/sample/images',
      '--curated',
      'fixtures/curated-sample',
      '--grid',
      '16',
    ]
    const [a, b] = [tmp('cur-one'), tmp('cur-two')]
    offsets(a, 1, args)
    offsets(b, 2, args)
    const records = readFileSync(path.join(b, 'offsets-00000-of-00001.jsonl'), 'utf8').split('\n').filter(Boolean)
    expect(records.length).toBeGreaterThan(0)
    expect(records.every((l) => typeof JSON.parse(l).curated_seg === 'string')).toBe(true)
    for (const [name, bytes] of filesOf(a)) expect(filesOf(b).get(name)!.equals(bytes), name).toBe(true)
  })
})
