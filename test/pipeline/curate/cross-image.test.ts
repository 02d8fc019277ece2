import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'

// getok curate --cross-image (4 images in flight, their prompts in shared decoder runs) with the built
// CLI and the real model: the records must be the bytes of a run that decodes image by image, under
// both decode rules, with two images to a shard so images of one shard finish out of order.
const BIN = path.resolve('bin/run.js')
const ARGS = ['-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--shard-size', '2', '--json']

function curate(extra: string[]) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'getok-cross-')), 'out')
  const r = spawnSync('node', [BIN, 'curate', ...ARGS, '-o', out, ...extra], {encoding: 'utf8'})
  expect(r.stderr).not.toMatch(/Error/)
  expect(r.status).toBe(0)
  const files = readdirSync(out).filter((f) => f.endsWith('.jsonl'))
  return {result: JSON.parse(r.stdout), shards: new Map(files.map((f) => [f, readFileSync(path.join(out, f), 'utf8')]))}
}

describe('curate --cross-image (real SAM)', () => {
  it.each([['box'], ['union']])('writes the same records as image-by-image decoding (--decode %s)', (rule) => {
    const alone = curate(['--decode', rule, '--no-cross-image'])
    const gathered = curate(['--decode', rule, '--cross-image'])
    expect(alone.shards.size).toBe(2)
    expect([...gathered.shards.keys()]).toEqual([...alone.shards.keys()])
    for (const [file, text] of alone.shards) expect(gathered.shards.get(file)).toBe(text)
    const records = [...alone.shards.values()].join('').trim().split('\n')
    expect(records.length).toBeGreaterThan(5)
    expect(records.every((l) => JSON.parse(l).decode === rule)).toBe(true)
    // the same prompts reached SAM, counted from the engine's own total when images overlap
    expect(gathered.result.decoderCalls).toBe(alone.result.decoderCalls)
    // ... in fewer decoder runs: prompts of different images shared them
    expect(gathered.result.decoderRuns).toBeLessThan(alone.result.decoderRuns)
  })
})
