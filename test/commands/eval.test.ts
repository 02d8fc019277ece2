import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {latin1E, placeOfE9} from '../helpers/latin1.js'
import {perfectSwiftResult} from '../helpers/predictions.js'

// The built CLI (npm test builds first), as a user runs it: export, a trainer's predictions, eval.
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images']

function getok(args: string[]) {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

const jsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))

describe('getok eval (CLI)', () => {
  it('lists every flag with a sentence in --help', () => {
    const {code, stdout} = getok(['eval', '--help'])
    expect(code).toBe(0)
    for (const flag of [
      '--annotations',
      '--images',
      '--out',
      '--format',
      '--reference',
      '--curated',
      '--grid',
      '--decode',
      '--mask-policy',
    ]) {
      expect(stdout).toMatch(new RegExp(`${flag}[^\\n]*\\s{2,}\\S`))
    }
    for (const flag of ['--flip-v', '--split', '--batch', '--device', '--threads', '--encoder', '--decoder', '--json', '--overwrite']) {
      expect(stdout).toMatch(new RegExp(`${flag}[^\\n]*\\s{2,}\\S`))
    }
  })

  it('scores ms-swift and LLaMA-Factory predictions of exported data alike, with the figures the curated records promise', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-cli-'))
    const exported: Record<string, string> = {}
    for (const format of ['swift', 'llamafactory']) {
      const out = path.join(dir, format)
      const data = ['--curated', 'fixtures/curated-sample', '--offsets', 'fixtures/offsets-sample', '--split', 'val']
      expect(getok(['export', ...data, '--format', format, '-o', out]).code).toBe(0)
      exported[format] = path.join(out, `${format}-val.jsonl`)
    }
    // the answers a perfect model gives: the exported targets
    const swift = jsonl(exported.swift).map((r) => perfectSwiftResult(r))
    const lf = jsonl(exported.llamafactory).map((r) => ({
      prompt: '',
      predict: r.conversations.at(-1).value,
      label: r.conversations.at(-1).value,
    }))
    writeFileSync(path.join(dir, 'swift-result.jsonl'), swift.map((r) => JSON.stringify(r) + '\n').join(''))
    writeFileSync(path.join(dir, 'generated_predictions.jsonl'), lf.map((r) => JSON.stringify(r)).join('\n'))

    const a = getok([
      'eval',
      path.join(dir, 'swift-result.jsonl'),
      ...SAMPLE,
      '-o',
      path.join(dir, 'ev-swift'),
      '--reference',
      exported.swift,
      '--threads',
      '1',
      '--json',
    ])
    expect(a.code).toBe(0)
    const s = JSON.parse(a.stdout)
    expect(s).toMatchObject({samples: 39, failed: 0, unresolved: {count: 0}, decode: {grid: 16, rule: 'union', policy: 'single'}})
    for (const key of ['giou', 'ciou', 'box_acc50', 'point_acc', 'by_split', 'refined']) expect(s).toHaveProperty(key)
    expect(Object.keys(s.by_split)).toEqual(['val'])
    // seg answers are curated token sets: their gIoU is the mean curated IoU of the objects exported for seg
    const curated = jsonl('fixtures/curated-sample/curate-00000-of-00001.jsonl')
    const segIous = swift
      .filter((r) => r.messages.length === 2 && /segment the/.test(r.messages[0].content))
      .map((r) => curated.find((c) => c.seg === r.labels).iou)
    expect(segIous).toHaveLength(9)
    expect(s.by_task.seg.giou).toBeCloseTo(segIous.reduce((x: number, y: number) => x + y, 0) / segIous.length, 5)
    // §5's own targets are right by definition, and refining with them raises the simulated previous answer's IoU
    expect(s.refined).toMatchObject({samples: 10, failed: 0, offset_acc: 1})
    expect(s.refined.giou).toBeGreaterThan(s.inputs.by_task.refine.giou)
    expect(s.by_task.refine).toMatchObject({samples: 10, answers_from_data: 10, giou: null})
    expect(jsonl(path.join(dir, 'ev-swift', 'eval.jsonl'))).toHaveLength(39)
    expect(readFileSync(path.join(dir, 'ev-swift', 'summary.json'), 'utf8')).toContain('"giou"')

    const b = getok([
      'eval',
      path.join(dir, 'generated_predictions.jsonl'),
      ...SAMPLE,
      '-o',
      path.join(dir, 'ev-lf'),
      '--reference',
      exported.llamafactory,
      '--threads',
      '1',
      '--json',
    ])
    expect(b.code).toBe(0)
    const t = JSON.parse(b.stdout)
    for (const key of ['samples', 'failed', 'giou', 'ciou', 'box_acc50', 'point_acc', 'by_split', 'by_task', 'refined'])
      expect(t[key]).toEqual(s[key])
    expect(t.predictions.format).toBe('llamafactory')
  })

  it('prints the table and refuses LLaMA-Factory predictions without their data file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-cli-'))
    const file = path.join(dir, 'p.jsonl')
    const rows = [
      {image_id: 25560, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>', split: 'testA'},
      {image_id: 25560, ann_id: 29572},
    ]
    writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
    const ok = getok(['eval', file, ...SAMPLE, '-o', path.join(dir, 'out'), '--grid', '16'])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/metric\s+testA\s+all/)
    expect(ok.stdout).toMatch(/REC Acc@0\.5\s+100\.0\s+100\.0/)
    expect(ok.stdout).toContain(
      'not scored: 1 row not placed on an object\n  1 × no "answer" string (line 2)\nskipped: 0 samples of unreadable images',
    )
    writeFileSync(file, JSON.stringify({prompt: 'p', predict: '<grid_1_1>', label: ''}) + '\n')
    const bad = getok(['eval', file, ...SAMPLE, '-o', path.join(dir, 'out2')])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--reference/)
  })

  it('a file of which no row can be placed is bad input: exit 2, naming the line and the field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-cli-'))
    const file = path.join(dir, 'p.jsonl')
    const rows = [
      {image_id: '25560', ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>'},
      {image_id: 25560, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>', task: 'segm'},
      {image_id: 99, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>'},
      {image_id: '1', ann_id: 2, answer: 'x'},
    ]
    writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
    const out = path.join(dir, 'out')
    const bad = getok(['eval', file, ...SAMPLE, '-o', out, '--grid', '16'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.replace(/\s+/g, ' ')).toContain(
      'p.jsonl, line 1: no prediction row could be placed on a COCO object: 4 of 4 rows, 2 of them: "image_id" is not an integer ' +
        '(got "25560"); 2 other reasons',
    )
    // nothing was written: the folder was never claimed
    expect(existsSync(out)).toBe(false)
    // one good row among them: scored, and each bad row named by its line on the terminal
    writeFileSync(
      file,
      [...rows, {image_id: 25560, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>'}].map((r) => JSON.stringify(r) + '\n').join(''),
    )
    const some = getok(['eval', file, ...SAMPLE, '-o', out, '--grid', '16'])
    expect(some.code).toBe(0)
    expect(some.stdout).toContain('2 × "image_id" is not an integer (got "N") (lines 1, 4)')
    expect(some.stdout).toContain('1 × "task" is not one of seg, box, point, multi, refine (got "segm") (line 2)')
    expect(some.stdout).toContain('1 × unknown image_id N (line 3)')
  })

  it('a predictions file saved in Latin-1 is bad input: exit 2, naming the file, line, column and byte; nothing is written', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-cli-'))
    const file = path.join(dir, 'p.jsonl')
    const rows = [
      {image_id: 25560, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box>'},
      {image_id: 25560, ann_id: 29572, answer: '<box><grid_3_0><grid_13_8></box> the télé'},
    ]
    const bytes = latin1E(rows.map((r) => JSON.stringify(r) + '\n').join(''))
    writeFileSync(file, bytes)
    const out = path.join(dir, 'out')
    const bad = getok(['eval', file, ...SAMPLE, '-o', out, '--grid', '16'])
    expect(bad.code).toBe(2)
    expect(bad.stderr.replace(/\s+/g, ' ')).toContain(
      `p.jsonl: invalid UTF-8 at ${placeOfE9(bytes)}: bytes 0xe9 0x6c do not form a character`,
    )
    expect(placeOfE9(bytes)).toMatch(/^line 2,/)
    expect(existsSync(out)).toBe(false)
  })

  it('says the tokens were cut when none of the model answers holds one, answers it was given aside', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-eval-cli-'))
    const file = path.join(dir, 'p.jsonl')
    const rows = [
      {image_id: 25560, ann_id: 29572, answer: 'the tv'},
      {image_id: 25560, ann_id: 48152, answer: 'the cat'},
      // a refine sample: its answer is the data's (tokens and all), its refinement the model's, stripped too
      {image_id: 25560, ann_id: 29572, task: 'refine', answer: '<seg><grid_8_4></seg>', refinement: 'move it'},
    ]
    writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
    const r = getok(['eval', file, ...SAMPLE, '-o', path.join(dir, 'out'), '--grid', '16', '--decode', 'union', '--threads', '1'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/given answers\s+1\s/)
    expect(r.stdout).toContain('no answer holds a GETok token: did the trainer decode with skip_special_tokens?')
  })
})
