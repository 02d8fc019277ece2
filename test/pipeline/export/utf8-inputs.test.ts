import {cpSync, existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {type ExportRunInput, runExport} from '../../../src/pipeline/export/export-run.js'
import {writeLatin1} from '../../helpers/latin1.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// Every text file export reads is UTF-8 or the export stops before writing, naming the file and the
// line; Node's decoding would have trained on "caf\ufffd".
const CURATED = 'fixtures/curated-sample'
const OFFSETS = 'fixtures/offsets-sample'
const REFCOCOS = 'fixtures/refexp/refcocos-test.jsonl'

const tmp = tempDirs('getok-export-utf8')

function input(out: string, extra: Partial<ExportRunInput> = {}): ExportRunInput {
  return {
    curated: CURATED,
    offsets: OFFSETS,
    format: 'swift',
    out,
    tasks: ['seg', 'box', 'point', 'refine'],
    refineForm: 'auto',
    minIou: 0.5,
    defaultSplit: 'train',
    tags: false,
    ...extra,
  }
}

/** A copy of a fixture folder with one file edited and saved in Latin-1; the folder and the expected message. */
function latin1Folder(fixture: string, name: string, edit: (t: string) => string): {folder: string; message: RegExp} {
  const folder = path.join(tmp(), path.basename(fixture))
  cpSync(fixture, folder, {recursive: true})
  const file = path.join(folder, name)
  return {folder, message: writeLatin1(file, edit(readFileSync(file, 'utf8')))}
}

const filesOf = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f))]))

describe('getok export refuses text that is not UTF-8', () => {
  it('--expressions JSONL: a Latin-1 expression stops the export naming the file and line; an earlier export stays intact', async () => {
    const out = path.join(tmp(), 'out')
    await runExport(input(out, {expressions: {file: REFCOCOS, source: 'jsonl'}}))
    const before = filesOf(out)
    const file = path.join(tmp(), 'expressions.jsonl')
    const lines = readFileSync(REFCOCOS, 'utf8').split('\n')
    lines[2] = lines[2].replace(/"expression": ?"/, '$&café ')
    const message = writeLatin1(file, lines.join('\n'))
    expect(message.source).toContain('line 3,')
    await expect(runExport(input(out, {expressions: {file, source: 'jsonl'}}))).rejects.toThrow(message)
    expect(filesOf(out)).toEqual(before)
  })

  it.each([
    ['a --curated shard', CURATED, 'curate-00000-of-00001.jsonl', (t: string) => t.replace('"category":"cat"', '"category":"caté"')],
    ['the --curated manifest.json', CURATED, 'manifest.json', (t: string) => t.replace('"candidates": "pool"', '"candidates": "poolé"')],
    ['an --offsets shard', OFFSETS, 'offsets-00000-of-00001.jsonl', (t: string) => t.replace('"category":"cat"', '"category":"caté"')],
    ['the --offsets manifest.json', OFFSETS, 'manifest.json', (t: string) => t.replace('"ties": "axis-first"', '"ties": "axis-firsté"')],
  ])('%s', async (_, fixture, name, edit) => {
    const {folder, message} = latin1Folder(fixture, name, edit)
    const out = path.join(tmp(), 'out')
    const which = fixture === CURATED ? {curated: folder} : {offsets: folder}
    await expect(runExport(input(out, which))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it('--templates', async () => {
    const file = path.join(tmp(), 'templates.json')
    const message = writeLatin1(file, '{\n  "seg": "Segmenté {expression}."\n}\n')
    const out = path.join(tmp(), 'out')
    await expect(runExport(input(out, {templates: file}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it('--followup predictions, and the --reference data file they answer', async () => {
    const data = path.join(tmp(), 'predict')
    await runExport(input(data, {predict: true, minIou: 0}))
    const records = readFileSync(path.join(data, 'swift-train.jsonl'), 'utf8').split('\n').filter(Boolean)
    const answer = (line: string) => {
      const r = JSON.parse(line)
      return JSON.stringify({...r, response: r.messages.at(-1).content}) + '\n'
    }
    const predictions = path.join(tmp(), 'result.jsonl')
    const message = writeLatin1(
      predictions,
      records.map((r, k) => (k === 1 ? answer(r).replace('"response":"', '"response":"é') : answer(r))).join(''),
    )
    expect(message.source).toContain('line 2,')
    const out = path.join(tmp(), 'out')
    await expect(runExport(input(out, {followup: {predictions}}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)

    const generated = path.join(tmp(), 'generated_predictions.jsonl')
    writeFileSync(generated, records.map(() => JSON.stringify({prompt: '', predict: '<seg></seg>', label: ''}) + '\n').join(''))
    const reference = path.join(tmp(), 'llamafactory-train.jsonl')
    const referenceMessage = writeLatin1(reference, records.map((r, k) => (k === 0 ? r.replace('"id":"', '"id":"é') : r) + '\n').join(''))
    await expect(runExport(input(out, {followup: {predictions: generated, reference}}))).rejects.toThrow(referenceMessage)
    expect(existsSync(out)).toBe(false)
  })
})
