import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'

// merge on `offsets` output (no SAM needed), and curate runs of another --batch (SAM); the curate workers and
// every refusal are in scale.test.ts.
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '--grid', '16', '--seed', '3']

const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-${name}-`))
const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
const recordsOf = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    )
    .sort((a, b) => a.image_id - b.image_id)

describe('getok merge (offsets output)', () => {
  it('joins runs over disjoint images into the records and summary of one run over all of them', () => {
    const [a, b, both, out] = ['a', 'b', 'both', 'out'].map((n) => path.join(tmp('merge-offsets'), n))
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '443303', '-o', a]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '184321', '-o', b]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '443303,184321', '-o', both]).status).toBe(0)
    const r = getok(['merge', a, b, '-o', out, '--json'])
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({command: 'offsets', workers: 2, shards: 2})
    expect(recordsOf(out)).toEqual(recordsOf(both))
    expect(manifestOf(out).summary).toEqual(manifestOf(both).summary)
  })

  it('joins runs over disjoint images of unequal counts, adding up their images in the config', () => {
    // annotations_images (1 against 2) was compared as if they were workers of one split, and refused
    const [a, b, all, out] = ['a', 'b', 'all', 'out'].map((n) => path.join(tmp('merge-unequal'), n))
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '443303', '-o', a]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '184321,25560', '-o', b]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '443303,184321,25560', '-o', all]).status).toBe(0)
    const r = getok(['merge', a, b, '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    expect(recordsOf(out)).toEqual(recordsOf(all))
    expect(manifestOf(out).summary).toEqual(manifestOf(all).summary)
    expect(manifestOf(out).config).toEqual(manifestOf(all).config)
  })

  it('merges the workers of a sharded run (shares of unequal size) into exactly the single run', () => {
    // tiny-coco val: image-id hashing gives the two workers 26 and 24 images
    const ann = ['-a', 'fixtures/coco/instances_val2017.json', '--grid', '16']
    const root = tmp('merge-shards')
    const [w0, w1, single, out] = ['w0', 'w1', 'single', 'out'].map((n) => path.join(root, n))
    for (const [k, dir] of [w0, w1].entries()) {
      expect(getok(['offsets', ...ann, '-o', dir, '--shard-index', String(k), '--shard-count', '2']).status).toBe(0)
    }
    const sizes = [w0, w1].map((d) => manifestOf(d).shards.reduce((n: number, s: {units: number}) => n + s.units, 0))
    expect(sizes[0]).not.toBe(sizes[1])
    // every worker records the whole run's image count, as curate does (merge compares it)
    expect([w0, w1].map((d) => manifestOf(d).config.annotations_images)).toEqual([50, 50])
    expect(getok(['offsets', ...ann, '-o', single]).status).toBe(0)
    const r = getok(['merge', w0, w1, '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    expect(recordsOf(out)).toEqual(recordsOf(single))
    expect(manifestOf(out).summary).toEqual(manifestOf(single).summary)
    expect(manifestOf(out).config).toEqual(manifestOf(single).config)
  })

  it("refuses, even with --overwrite, an --out holding a run's or another command's output, and keeps its files", () => {
    const root = tmp('merge-over')
    const [a, b, run, curated] = ['a', 'b', 'run', 'curated'].map((n) => path.join(root, n))
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '443303', '-o', a]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '184321', '-o', b]).status).toBe(0)
    expect(getok(['offsets', ...SAMPLE, '--image-ids', '25560', '-o', run]).status).toBe(0)
    cpSync('fixtures/curated-sample', curated, {recursive: true})
    for (const [dir, message] of [
      [run, /run\.json: the output folder holds a run's output, not an earlier merge/],
      [curated, /manifest\.json, field "command": the output folder holds another command's output/],
    ] as const) {
      const before = readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')])
      const r = getok(['merge', a, b, '-o', dir, '--overwrite'])
      expect(r.status).toBe(2)
      expect(r.stderr.replace(/\s+/g, ' ')).toMatch(message)
      expect(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')])).toEqual(before)
    }
    // an earlier merge is still replaced
    const out = path.join(root, 'out')
    expect(getok(['merge', a, b, '-o', out]).status).toBe(0)
    expect(getok(['merge', a, b, '-o', out, '--overwrite']).status).toBe(0)
  })

  it('refuses nothing to merge and a folder that is not a run', () => {
    expect(getok(['merge', '-o', tmp('merge-none')]).stderr).toMatch(/Missing 1 required arg/)
    const r = getok(['merge', 'fixtures/sample', '-o', path.join(tmp('merge-none'), 'out')])
    expect(r.status).toBe(2)
    expect(r.stderr.replace(/\s+/g, ' ')).toMatch(/fixtures\/sample: no manifest\.json: this run has not finished/)
  })
})

describe('getok merge (curate output, real SAM)', () => {
  it("joins runs made with another --batch: a prompt's masks do not depend on its decoder run, so the records are one run's", () => {
    // before: "not the same run: config.batch is 1 … but 4 here", though the records are the same bytes
    const curate = ['curate', '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--threads', '1']
    const [a, b, both, out] = ['a', 'b', 'both', 'out'].map((n) => path.join(tmp('merge-batch'), n))
    expect(getok([...curate, '--image-ids', '25560', '--batch', '1', '-o', a]).status).toBe(0)
    expect(getok([...curate, '--image-ids', '443303', '--batch', '4', '-o', b]).status).toBe(0)
    expect(getok([...curate, '--image-ids', '25560,443303', '--batch', '1', '-o', both]).status).toBe(0)
    const r = getok(['merge', a, b, '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    expect(recordsOf(out)).toEqual(recordsOf(both))
    expect(manifestOf(out).summary).toEqual(manifestOf(both).summary)
    expect(manifestOf(out).config).toEqual({...manifestOf(both).config, batch: [1, 4]})
  })
})
