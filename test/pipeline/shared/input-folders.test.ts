import {createHash} from 'node:crypto'
import {spawn} from 'node:child_process'
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import * as path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {decodeSettings} from '../../../src/pipeline/eval/settings.js'
import {readCurateFolder} from '../../../src/pipeline/export/export-inputs.js'
import {readPredictions} from '../../../src/pipeline/eval/read-predictions.js'
import {type ExportRunInput, runExport} from '../../../src/pipeline/export/export-run.js'
import {readRecords} from '../../../src/pipeline/inspect/inspect-records.js'
import {changedShardWarning, refuseFoldersBeingWritten} from '../../../src/pipeline/shared/input-folders.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// The readers of a finished curate folder other than export's and offsets' CLI (test/commands/input-lock.test.ts):
// eval's (and serve's) decodeSettings and inspect's records, on a copy of fixtures/curated-sample.
const tmp = tempDirs('getok-input-folders')
const SHARD = 'curate-00000-of-00001.jsonl'
const exportInput = (out: string): ExportRunInput => ({
  curated: 'fixtures/curated-sample',
  format: 'swift',
  out,
  tasks: ['seg', 'box', 'point'],
  refineForm: 'auto',
  minIou: 0.5,
  defaultSplit: 'train',
  tags: false,
})
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

/** fixtures/curated-sample with one record's iou changed in its last digit (the same size, other bytes). */
function editedCopy(): string {
  const dir = path.join(tmp(), 'cur')
  cpSync('fixtures/curated-sample', dir, {recursive: true})
  const file = path.join(dir, SHARD)
  writeFileSync(file, readFileSync(file, 'utf8').replace('"iou":0.93705', '"iou":0.93706'))
  return dir
}

const expected = (dir: string) => {
  const now = sha(path.join(dir, SHARD)).slice(0, 8)
  return (
    `${path.join(dir, SHARD)}: not the bytes its manifest lists (12 records, sha256 d2b083f3… → ${now}…); ` +
    'edited since curate wrote it?'
  )
}

describe('an edited curate shard, read by eval, serve and inspect', () => {
  it("decodeSettings (eval --curated, serve --curated) reads it, telling `warn` once; the fixture's bytes, nothing", async () => {
    const dir = editedCopy()
    const said: string[] = []
    const settings = await decodeSettings({curated: dir}, (l) => said.push(l))
    expect(settings.settings.n).toBe(16)
    expect([...settings.curated!.values()].flat()).toHaveLength(12)
    expect(said).toEqual([expected(dir)])
    const clean: string[] = []
    await decodeSettings({curated: 'fixtures/curated-sample'}, (l) => clean.push(l))
    expect(clean).toEqual([])
  })

  it('inspect: through the folder, its manifest or the shard alone (the manifest beside it), once', async () => {
    // before: a shard given alone was not compared with the manifest beside it
    const dir = editedCopy()
    for (const source of [dir, path.join(dir, 'manifest.json'), path.join(dir, SHARD)]) {
      const said: string[] = []
      expect(await readRecords(source, (l) => said.push(l))).toHaveLength(12)
      expect(said).toEqual([expected(dir)])
    }
  })

  it('inspect: a shard alone whose folder has no manifest, or one that does not list it, is read as given', async () => {
    const dir = editedCopy()
    const copy = path.join(dir, 'copy.jsonl')
    cpSync(path.join(dir, SHARD), copy)
    const unlisted: string[] = []
    expect(await readRecords(copy, (l) => unlisted.push(l))).toHaveLength(12)
    expect(unlisted).toEqual([])
    rmSync(path.join(dir, 'manifest.json'))
    const bare: string[] = []
    expect(await readRecords(path.join(dir, SHARD), (l) => bare.push(l))).toHaveLength(12)
    expect(bare).toEqual([])
  })

  it('a manifest of an older getok, without sha256, checks nothing', async () => {
    const dir = editedCopy()
    const file = path.join(dir, 'manifest.json')
    const manifest = JSON.parse(readFileSync(file, 'utf8'))
    manifest.shards = manifest.shards.map(({sha256: _, ...rest}: Record<string, unknown>) => rest)
    writeFileSync(file, JSON.stringify(manifest))
    const said: string[] = []
    expect((await readCurateFolder(dir, {warn: (l) => said.push(l)})).records).toHaveLength(12)
    expect(said).toEqual([])
  })

  it("a 0.4.0 manifest's tokenStyle is read as token_style; today's spelling too", async () => {
    for (const key of ['tokenStyle', 'token_style']) {
      const dir = path.join(tmp(), 'cur')
      cpSync('fixtures/curated-sample', dir, {recursive: true})
      const file = path.join(dir, 'manifest.json')
      const {tokenStyle: _, ...config} = JSON.parse(readFileSync(file, 'utf8')).config
      writeFileSync(file, JSON.stringify({...JSON.parse(readFileSync(file, 'utf8')), config: {...config, [key]: 'paper'}}))
      expect((await readCurateFolder(dir)).style).toBe('paper')
    }
  })

  it('changedShardWarning: the sizes where they differ, nothing where the bytes are those listed', () => {
    const listed = {file: SHARD, records: 3, bytes: 10, sha256: 'a'.repeat(64)}
    expect(changedShardWarning('f.jsonl', listed, {bytes: 10, sha256: 'a'.repeat(64)}, 'offsets')).toBeUndefined()
    expect(changedShardWarning('f.jsonl', listed, {bytes: 11, sha256: 'b'.repeat(64)}, 'offsets')).toBe(
      'f.jsonl: not the bytes its manifest lists (3 records, 10 bytes, sha256 aaaaaaaa… → 11 bytes, sha256 bbbbbbbb…); ' +
        'edited since offsets wrote it?',
    )
  })
})

describe('the --reference data file of eval and export --followup', () => {
  /** An `export --predict` run and predictions that answer each of its conversations with its reference answer. */
  const predictRun = async (input: (out: string) => ExportRunInput) => {
    const data = path.join(tmp(), 'predict')
    await runExport({...input(data), predict: true, minIou: 0})
    const reference = path.join(data, 'swift-train.jsonl')
    const rows = readFileSync(reference, 'utf8').split('\n').filter(Boolean)
    const predictions = path.join(tmp(), 'result.jsonl')
    const answered = rows.map((r) => JSON.parse(r)).map((r) => ({...r, response: r.messages.at(-1).content}))
    writeFileSync(predictions, answered.map((r) => JSON.stringify(r) + '\n').join(''))
    return {reference, rows, predictions}
  }

  it('readPredictions (eval, export --followup) compares it with its export manifest: an edited one warns once', async () => {
    // before: a --predict data file edited since export wrote it was read without a word
    const {reference, rows, predictions} = await predictRun(exportInput)

    const clean: string[] = []
    await readPredictions(predictions, undefined, reference, (l) => clean.push(l))
    expect(clean).toEqual([])

    const listed = sha(reference).slice(0, 8)
    writeFileSync(reference, rows.slice(1).join('\n') + '\n')
    const said: string[] = []
    await readPredictions(predictions, 'swift', reference, (l) => said.push(l))
    expect(said).toHaveLength(1)
    expect(said[0]).toMatch(
      new RegExp(`^${reference}: not the bytes its manifest lists \\(${rows.length} records, \\d+ bytes, sha256 ${listed}…`),
    )
    expect(said[0]).toMatch(/; edited since export wrote it\?$/)
  })

  it('export --followup carries the warning into its result and manifest (box-rule records: fixtures/curated-box)', async () => {
    const input = (out: string): ExportRunInput => ({...exportInput(out), curated: 'fixtures/curated-box'})
    const {reference, rows, predictions} = await predictRun(input)
    const clean = await runExport({...input(path.join(tmp(), 'clean')), followup: {predictions, reference}})
    expect(clean.warnings).toBeUndefined()

    writeFileSync(reference, rows.join('\n') + '\n\n') // one more byte: the same records, other bytes
    const out = path.join(tmp(), 'followup')
    const followed = await runExport({...input(out), followup: {predictions, reference}})
    expect(followed.warnings).toHaveLength(1)
    expect(followed.warnings![0]).toMatch(new RegExp(`^${reference}: not the bytes its manifest lists \\(${rows.length} records, `))
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).warnings).toEqual(followed.warnings)
  })
})

describe('refuseFoldersBeingWritten', () => {
  const holders: ReturnType<typeof spawn>[] = []
  afterAll(() => holders.forEach((h) => h.kill('SIGKILL')))

  it("a file's folder counts; a path that is not there is left to its reader", async () => {
    const dir = tmp()
    writeFileSync(path.join(dir, 'eval.jsonl'), '')
    const live = spawn('sleep', ['600'], {stdio: 'ignore'})
    holders.push(live)
    writeFileSync(
      path.join(dir, '.getok.lock'),
      JSON.stringify({pid: live.pid, hostname: hostname(), command: 'eval', started: new Date().toISOString()}),
    )
    await expect(refuseFoldersBeingWritten([{path: path.join(dir, 'eval.jsonl'), flag: 'eval'}])).rejects.toThrow(
      new RegExp(`^--eval, ${dir}: being written by getok eval \\(pid ${live.pid}, `),
    )
    await expect(refuseFoldersBeingWritten([{path: path.join(dir, 'none', 'x')}, {path: undefined}])).resolves.toBeUndefined()
  })
})
