import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {type EvalRunInput, runEval} from '../../../src/pipeline/eval/eval-run.js'
import {SamEngine} from '../../../src/sam/engine.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {manifestOf, shardTexts} from '../../helpers/run-folder.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// A run records the annotations file by its bytes (config.annotations_sha256): a resume with the file
// moved goes on, one with the file edited since the folder was begun is refused, even where every
// image and annotation id is the same (the units fingerprint cannot see a changed polygon).
const BIN = path.resolve('bin/run.js')
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const tmp = tempDirs('getok-ann-id')

const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
const offsets = (ann: string, args: string[]) => getok(['offsets', '-a', ann, '--grid', '16', '--seed', '3', ...args])

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

/** A copy of the sample's annotations with the first polygon's first vertex moved 3 px: same ids, other masks. */
function editedCopy(file: string): string {
  const doc = JSON.parse(readFileSync(ANN, 'utf8'))
  doc.annotations[0].segmentation[0][0] += 3
  writeFileSync(file, JSON.stringify(doc))
  return file
}

/** The last finished shard removed, as a run killed before it leaves the folder. */
function dropLastShard(dir: string): void {
  const last = shardTexts(dir).at(-1)![0]
  rmSync(path.join(dir, last))
  rmSync(path.join(dir, last.replace(/\.jsonl$/, '.stats.json')))
}

describe('the annotations file is identified by its bytes', () => {
  it("readCoco hashes the bytes it reads: the file's own sha256", async () => {
    const edited = editedCopy(path.join(tmp(), 'edited.json'))
    expect((await readCoco(ANN)).sha256).toBe(sha256(ANN))
    expect((await readCoco(edited)).sha256).toBe(sha256(edited))
    expect(sha256(edited)).not.toBe(sha256(ANN))
  })

  it('offsets resumes with the file moved, and refuses the file edited since the folder was begun', () => {
    // before: the edited file resumed silently, the images done before kept the old polygon's records
    const root = tmp()
    const [run, whole] = ['run', 'whole'].map((n) => path.join(root, n))
    const first = path.join(root, 'first.json')
    copyFileSync(ANN, first)
    expect(offsets(ANN, ['--shard-size', '1', '-o', whole]).status).toBe(0)
    expect(manifestOf(whole).config.annotations_sha256).toBe(sha256(ANN))
    expect(offsets(first, ['--shard-size', '1', '-o', run]).status).toBe(0)
    dropLastShard(run)
    const moved = path.join(root, 'moved.json')
    renameSync(first, moved)
    const resumed = offsets(moved, ['--shard-size', '1', '-o', run, '--json'])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout).resumed).toBe(3)
    expect(shardTexts(run)).toEqual(shardTexts(whole))

    dropLastShard(run)
    const before = shardTexts(run)
    const edited = offsets(editedCopy(moved), ['--shard-size', '1', '-o', run])
    expect(edited.status).toBe(2)
    const message = edited.stderr.replace(/\s+/g, ' ')
    expect(message).toContain(`annotations_sha256: "${sha256(ANN)}" → "${sha256(moved)}"`)
    expect(message).toContain('the annotations file is not the one the folder was begun with')
    expect(shardTexts(run)).toEqual(before)
  })

  it('merge joins unsharded runs over other images of other files, and refuses workers of one split that read other files', () => {
    const root = tmp()
    const edited = editedCopy(path.join(root, 'edited.json'))
    const [a, b, w0, w1] = ['a', 'b', 'w0', 'w1'].map((n) => path.join(root, n))
    expect(offsets(ANN, ['--image-ids', '25560', '-o', a]).status).toBe(0)
    expect(offsets(edited, ['--image-ids', '184321', '-o', b]).status).toBe(0)
    const joined = getok(['merge', a, b, '-o', path.join(root, 'ab')])
    expect(joined.status, joined.stderr).toBe(0)
    // the merged config names both files, in the order the runs were given
    expect(manifestOf(path.join(root, 'ab')).config.annotations_sha256).toEqual([sha256(ANN), sha256(edited)])

    expect(offsets(ANN, ['-o', w0, '--shard-index', '0', '--shard-count', '2']).status).toBe(0)
    expect(offsets(edited, ['-o', w1, '--shard-index', '1', '--shard-count', '2']).status).toBe(0)
    const r = getok(['merge', w0, w1, '-o', path.join(root, 'w')])
    expect(r.status).toBe(2)
    expect(r.stderr.replace(/\s+/g, ' ')).toContain(`not the same run: config.annotations_sha256 is "${sha256(ANN)}" in ${w0}`)
  })
})

describe('eval: the annotations file by its bytes (real SAM)', () => {
  let engine: SamEngine
  beforeAll(async () => {
    engine = await SamEngine.load({threads: 1})
  })
  afterAll(async () => {
    await engine.release()
  })

  it('resumes with the annotations moved (before: refused by their path), and refuses them edited', async () => {
    const root = tmp()
    const predictions = path.join(root, 'predictions.jsonl')
    writeFileSync(predictions, JSON.stringify({image_id: 184321, ann_id: 171481, answer: '<grid_5_7>'}) + '\n')
    const out = path.join(root, 'eval')
    const input = (annotations: string): EvalRunInput => ({
      predictions,
      annotations,
      images: IMAGES,
      out,
      decode: {grid: 16, rule: 'union', policy: 'single'},
      shardSize: 1,
      batch: 1,
      strict: false,
      overwrite: false,
      engine: async () => engine,
      modelFiles: defaultModelFiles(),
    })
    const first = path.join(root, 'first.json')
    copyFileSync(ANN, first)
    const done = await runEval(input(first))
    const lines = readFileSync(path.join(out, 'eval.jsonl'), 'utf8')
    const moved = path.join(root, 'moved.json')
    renameSync(first, moved)
    const again = await runEval(input(moved))
    expect(again.resumed).toBe(done.images)
    expect(readFileSync(path.join(out, 'eval.jsonl'), 'utf8')).toBe(lines)
    await expect(runEval(input(editedCopy(moved)))).rejects.toThrow(/annotations_sha256: "[0-9a-f]{64}" → "[0-9a-f]{64}"/)
  })
})
