import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {EXPORT_FORMATS, type ExportFormat} from '../../../src/core/export/trainer-formats.js'
import type {EvalSample} from '../../../src/core/eval/plan.js'
import {runExport} from '../../../src/pipeline/export/export-run.js'
import {readPredictions} from '../../../src/pipeline/eval/read-predictions.js'
import {resolveRow} from '../../../src/pipeline/eval/resolve.js'
import {decodeSettings} from '../../../src/pipeline/eval/settings.js'
import {perfectSwiftResult} from '../../helpers/predictions.js'

// getok export output → the predictions each trainer writes from it (answers equal to the targets) → the samples eval
// scores: each must land on the object its prompt names. No SAM here; test/commands/eval.test.ts scores them.
const ANN = 'fixtures/sample/instances.json'
const curated: {image_id: number; ann_id: number; category: string}[] = readFileSync(
  'fixtures/curated-sample/curate-00000-of-00001.jsonl',
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))

type Turn = {role?: string; from?: string; content?: string; value?: string}
const text = (t: Turn) => t.content ?? t.value ?? ''

/** What a trainer writes for one exported record whose answer is exactly the target. */
function prediction(format: ExportFormat, record: Record<string, unknown>): Record<string, unknown> {
  const turns = (record.messages ?? record.conversations) as Turn[]
  const label = text(turns[turns.length - 1])
  if (format !== 'swift') return {prompt: text(turns[turns.length - 2]), predict: label, label}
  return {logprobs: null, ...perfectSwiftResult(record as Parameters<typeof perfectSwiftResult>[0])}
}

/** The object(s) and task a record's prompt names, read from the default templates' wording and the category. */
function named(record: Record<string, unknown>, imageId: number): {task: string; annIds: number[]} {
  const turns = (record.messages ?? record.conversations) as Turn[]
  const prompt = turns.map(text).join(' ')
  const inImage = curated.filter((c) => c.image_id === imageId)
  const all = prompt.match(/segment all the (\w+)/)
  if (all)
    return {task: 'multi', annIds: inImage.filter((c) => `${c.category}s` === all[1] || `${c.category}es` === all[1]).map((c) => c.ann_id)}
  const [, category] = prompt.match(/(?:segment|locate|point to|segmentation of) the ([a-z ]+?)(?: with|\.| is)/)!
  const task = /refine/.test(prompt) ? 'refine' : /bounding box/.test(prompt) ? 'box' : /point to/.test(prompt) ? 'point' : 'seg'
  return {task, annIds: inImage.filter((c) => c.category === category).map((c) => c.ann_id)}
}

const samples: Record<string, EvalSample[]> = {}
const expected: {task: string; annIds: number[]}[] = []

beforeAll(async () => {
  const data = await readCoco(ANN)
  const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-rt-'))
  for (const format of EXPORT_FORMATS) {
    const out = path.join(dir, format)
    const {files} = await runExport({
      curated: 'fixtures/curated-sample',
      offsets: 'fixtures/offsets-sample',
      format,
      out,
      tasks: ['seg', 'box', 'point', 'refine', 'multi'],
      refineForm: 'auto',
      minIou: 0.5,
      defaultSplit: 'val',
      tags: false,
    })
    const reference = path.join(out, files[0].file)
    const text = readFileSync(reference, 'utf8')
    const records: Record<string, unknown>[] =
      format === 'llava'
        ? JSON.parse(text)
        : text
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l))
    const predictions = path.join(dir, `${format}-predictions.jsonl`)
    writeFileSync(predictions, records.map((r) => JSON.stringify(prediction(format, r)) + '\n').join(''))
    const read = await readPredictions(predictions, undefined, reference)
    expect(read.bad).toEqual([])
    expect(read.fileSplit).toBe('val')
    const decode = await decodeSettings({reference})
    const ctx = {data, n: decode.settings.n, curated: decode.curated, defaultSplit: read.fileSplit!, flipV: decode.settings.flipV}
    samples[format] = read.rows.map((row) => {
      const r = resolveRow(row, ctx)
      if ('unresolved' in r) throw new Error(`${format} line ${row.line}: ${r.unresolved}`)
      return r.sample
    })
    if (format === 'swift') records.forEach((r, k) => expected.push(named(r, samples.swift[k].image_id)))
  }
})

describe('every trainer format round-trips from getok export output', () => {
  it('places each answer on the object its prompt names, with its task and split', () => {
    expect(samples.swift.length).toBe(39)
    expect(new Set(expected.map((e) => e.task))).toEqual(new Set(['seg', 'box', 'point', 'refine', 'multi']))
    samples.swift.forEach((s, k) => {
      expect(expected[k].annIds.length).toBeGreaterThan(0)
      expect({task: s.task, annIds: [...s.ann_ids].sort()}).toEqual({task: expected[k].task, annIds: [...expected[k].annIds].sort()})
      expect(s.split).toBe('val')
    })
  })

  it('refinement rows score the offsets against the answer they refine', () => {
    const refine = samples.swift.filter((s) => s.task === 'refine')
    expect(refine.length).toBe(10)
    for (const s of refine) {
      expect(s.answer).toMatch(/^<seg>/)
      expect(s.refinement).toMatch(/^<offset><seg>/)
      // the simulated previous prediction was given to the model, not written by it
      expect(s.answer_from).toBe('data')
    }
    expect(samples.swift.filter((s) => s.task !== 'refine').every((s) => s.answer_from === 'model')).toBe(true)
  })

  it('a refinement turn answered with words is a failed refinement of the answer before it, not a first answer', async () => {
    const data = await readCoco(ANN)
    const ctx = {data, n: 16, curated: null, defaultSplit: 'val', flipV: false}
    const prev = '<seg><grid_1_1><grid_2_2></seg>'
    const row = {
      line: 1,
      text: 'I cannot refine it.',
      imageId: 25560,
      annIds: [48152],
      label: '<offset><seg><OFF_0_0><DELETE></seg></offset>',
    }
    expect(resolveRow({...row, previous: prev}, ctx)).toEqual({
      sample: {
        image_id: 25560,
        ann_ids: [48152],
        split: 'val',
        task: 'refine',
        answer: prev,
        refinement: 'I cannot refine it.',
        answer_from: 'data',
      },
    })
    expect(resolveRow(row, ctx)).toEqual({unresolved: expect.stringMatching(/a refinement without the answer it refines/)})
  })

  it('gives the same samples from ms-swift, LLaMA-Factory, LLaVA and Qwen-VL data', () => {
    for (const format of EXPORT_FORMATS) expect(samples[format]).toEqual(samples.swift)
  })
})
