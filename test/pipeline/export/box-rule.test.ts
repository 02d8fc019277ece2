import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {EXPORT_FORMATS} from '../../../src/core/export/trainer-formats.js'
import {runExport} from '../../../src/pipeline/export/export-run.js'
import {perfectSwiftResult} from '../../helpers/predictions.js'

// The built CLI (npm test builds first) on real photos and real SAM: curate --decode box on fixtures/sample,
// offsets --curated on it, export, a trainer's predictions equal to the exported targets, eval.
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images']

type Rec = Record<string, any>

function getok(args: string[]): string {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`getok ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}
const jsonl = (file: string): Rec[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
const manifestOf = (dir: string): Rec => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

const dir = mkdtempSync(path.join(tmpdir(), 'getok-box-export-'))
const CUR = path.join(dir, 'cur')
const OFF = path.join(dir, 'off')
const SWIFT = path.join(dir, 'swift')
let curated: Rec[] = []
let offsets: Rec[] = []
let swift: Rec[] = []
afterAll(() => rmSync(dir, {recursive: true, force: true}))

beforeAll(() => {
  getok(['curate', ...SAMPLE, '-o', CUR, '--grid', '16', '--threads', '1', '--candidates', 'pool', '--decode', 'box'])
  getok(['offsets', ...SAMPLE, '-o', OFF, '--grid', '16', '--curated', CUR])
  getok(['export', '--curated', CUR, '--offsets', OFF, '--format', 'swift', '-o', SWIFT, '--split', 'val'])
  curated = jsonl(path.join(CUR, 'curate-00000-of-00001.jsonl'))
  offsets = jsonl(path.join(OFF, 'offsets-00000-of-00001.jsonl'))
  swift = jsonl(path.join(SWIFT, 'swift-val.jsonl'))
}, 300_000)

const texts = (r: Rec): string[] => r.messages.map((m: Rec) => m.content)
const isSeg = (r: Rec) => /^<image>Please segment the /.test(r.messages[0].content) && !isRefine(r)
const isRefine = (r: Rec) => /refine the segmentation/.test(r.messages[2]?.content ?? '')

describe('export of box-rule curate records', () => {
  it('the fixture is what the test needs: box-rule records, some of the box alone, some with points', () => {
    expect(curated).toHaveLength(12)
    expect(curated.every((c) => c.decode === 'box' && typeof c.box_offsets === 'string')).toBe(true)
    expect(curated.some((c) => c.points.length === 0)).toBe(true)
    expect(curated.some((c) => c.points.length > 0)).toBe(true)
  })

  it('answers seg with the box then the points, and a second turn of the record box_offsets', () => {
    const segs = swift.filter(isSeg)
    // every object alone in its category in its image, IoU ≥ 0.5: the two couches of 219578 are ambiguous
    const expected = curated.filter((c) => curated.filter((d) => d.image_id === c.image_id && d.category === c.category).length === 1)
    expect(segs).toHaveLength(expected.length)
    for (const r of segs) {
      const [, answer, ask, moves] = texts(r)
      const c = curated.filter((x) => x.box + x.seg === answer)
      expect(c).toHaveLength(1)
      expect(answer.startsWith('<box>')).toBe(true)
      expect(ask).toBe('Please refine the box corners with offset tokens.')
      expect(moves).toBe(c[0].box_offsets)
      expect(r.messages.some((m: Rec) => m.loss === false)).toBe(false)
    }
    expect(segs.some((r) => texts(r)[1].endsWith('</box><seg></seg>'))).toBe(true)
  })

  it('refine: the simulated answer holds the curated box, the target its moves before the points offsets', () => {
    const refine = swift.filter(isRefine)
    expect(refine.length).toBe(swift.filter(isSeg).length)
    for (const r of refine) {
      const [, prev, , target] = texts(r)
      const o = offsets.filter((x) => prev.endsWith(x.prev))
      expect(o).toHaveLength(1)
      const c = curated.find((x) => x.ann_id === o[0].ann_id)!
      expect(prev).toBe(c.box + o[0].prev)
      expect(target).toBe(c.box_offsets + o[0].target)
      expect(r.messages[1].loss).toBe(false)
    }
  })

  it("points with each record's own point, also for objects of zero points, and names the rule in the manifest", () => {
    const m = manifestOf(SWIFT)
    expect(m.config.decode).toBe('box')
    expect(m.skips.filter((s: Rec) => s.task === 'point')).toEqual([])
    const points = swift.filter((r) => /^<image>Please point to/.test(r.messages[0].content))
    expect(points.length).toBe(swift.filter(isSeg).length)
    const answers = new Set(points.map((r) => texts(r)[1]))
    const zero = curated.filter((c) => c.points.length === 0)
    expect(zero.length).toBeGreaterThan(0)
    for (const c of curated) expect(c.point).toMatch(/^<grid_\d+_\d+>$/)
    // the pointing answers are the records' points, zero-point objects among them
    expect(zero.some((c) => answers.has(c.point))).toBe(true)
    for (const a of answers) expect(curated.some((c) => c.point === a)).toBe(true)
  })

  it('multi: each couch its box and points, then every box offsets, joined by ", "', () => {
    const multi = swift.filter((r) => /segment all the/.test(r.messages[0].content))
    expect(multi).toHaveLength(1)
    const couches = curated.filter((c) => c.category === 'couch')
    const [, answer, , moves] = texts(multi[0])
    expect(answer.split(', ').sort()).toEqual(couches.map((c) => c.box + c.seg).sort())
    expect(moves.split(', ').sort()).toEqual(couches.map((c) => c.box_offsets).sort())
  })
})

describe('bad box-rule input stops the export, naming file, record and field', () => {
  /** A copy of the box-rule curate folder with its first record changed. */
  function edited(tag: string, change: (c: Rec) => Rec): string {
    const cur = path.join(dir, `cur-${tag}`)
    cpSync(CUR, cur, {recursive: true})
    const rows = curated.map((c, k) => (k === 0 ? change(c) : c))
    writeFileSync(path.join(cur, 'curate-00000-of-00001.jsonl'), rows.map((c) => JSON.stringify(c) + '\n').join(''))
    return cur
  }
  const exportOf = (cur: string) =>
    runExport({
      curated: cur,
      format: 'swift',
      out: path.join(dir, `ex-${path.basename(cur)}`),
      tasks: ['seg'],
      refineForm: 'auto',
      minIou: 0.5,
      defaultSplit: 'val',
      tags: false,
    })

  it('a record of another rule than the manifest names', async () => {
    const cur = edited('mixed', ({decode: _d, box_offsets: _b, ...c}) => ({...c, points: [[4, 1]], seg: '<seg><grid_4_1></seg>'}))
    await expect(exportOf(cur)).rejects.toThrow(
      /line 1, field "decode": record of another decode rule than its manifest names: expected box, got union/,
    )
  })

  it('a box-rule record without its box offsets, or with a <DELETE> among them', async () => {
    await expect(exportOf(edited('nobox', ({box_offsets: _b, ...c}) => c))).rejects.toThrow(
      /line 1, field "box_offsets": a box-rule record needs/,
    )
    const del = edited('del', (c) => ({...c, box_offsets: '<offset><box><DELETE><OFF_0_0></box></offset>'}))
    await expect(exportOf(del)).rejects.toThrow(/line 1, field "box_offsets": not two box corner moves/)
  })
})

describe('eval of a perfect model on box-rule export gives back the curated IoU', () => {
  it('ms-swift and LLaMA-Factory predictions: refined seg gIoU is the mean curated iou, each sample its record iou', () => {
    const lf = path.join(dir, 'lf')
    getok(['export', '--curated', CUR, '--offsets', OFF, '--format', 'llamafactory', '-o', lf, '--split', 'val'])
    const swiftPred = swift.map((r) => perfectSwiftResult(r))
    const lfPred = jsonl(path.join(lf, 'llamafactory-val.jsonl')).map((r) => ({
      prompt: '',
      predict: r.conversations.at(-1).value,
      label: '',
    }))
    writeFileSync(path.join(dir, 'swift-pred.jsonl'), swiftPred.map((r) => JSON.stringify(r) + '\n').join(''))
    writeFileSync(path.join(dir, 'generated_predictions.jsonl'), lfPred.map((r) => JSON.stringify(r) + '\n').join(''))
    const runs = [
      ['swift-pred.jsonl', path.join(SWIFT, 'swift-val.jsonl')],
      ['generated_predictions.jsonl', path.join(lf, 'llamafactory-val.jsonl')],
    ]
    const summaries = runs.map(([pred, reference], k) => {
      const out = path.join(dir, `ev${k}`)
      const args = ['eval', path.join(dir, pred), ...SAMPLE, '-o', out, '--reference', reference, '--threads', '1', '--json']
      return {s: JSON.parse(getok(args)), lines: jsonl(path.join(out, 'eval.jsonl'))}
    })
    for (const {s, lines} of summaries) {
      expect(s).toMatchObject({samples: swift.length, failed: 0, unresolved: {count: 0}, decode: {grid: 16, rule: 'box'}})
      const segs = lines.filter((l) => l.task === 'seg')
      expect(segs).toHaveLength(swift.filter(isSeg).length)
      const ious = segs.map((l) => curated.find((c) => c.ann_id === l.ann_ids[0])!.iou)
      segs.forEach((l, k) => expect(Math.abs(l.refined.iou - ious[k])).toBeLessThanOrEqual(1e-6))
      expect(Math.abs(s.refined.by_split.val.by_task.seg.giou - mean(ious))).toBeLessThanOrEqual(1e-6)
      // the box alone, unrefined, sits on the grid anchors: not the curated mask
      expect(segs.some((l) => Math.abs(l.iou - l.refined.iou) > 1e-3)).toBe(true)
      expect(segs.some((l) => l.objects[0].cells.length === 0)).toBe(true)
      // §5's point targets are right by definition, the box moves included in the same turn
      expect(s.refined.by_split.val.by_task.refine).toMatchObject({failed: 0, offset_acc: 1})
    }
    expect(summaries[1].s.refined.giou).toBe(summaries[0].s.refined.giou)
    // the trainer took every first answer from the data file: none is the model's, none is in the figures before refinement
    const given = swift.filter((r) => r.messages.length > 2).length
    for (const {s} of summaries) {
      expect(s.answers_from_data).toBe(given)
      expect(s.by_task.seg).toMatchObject({samples: segCount(), mask_samples: 0, giou: null, answers_from_data: segCount()})
      expect(s.inputs.by_task.seg.samples).toBe(segCount())
    }
  }, 120_000)
})

const segCount = () => swift.filter(isSeg).length

describe('two predict runs: --predict, then --followup on the model answers', () => {
  const PRED = path.join(dir, 'pred')
  const NEXT = path.join(dir, 'next')
  const evalOf = (pred: string, reference: string, out: string) => {
    const args = ['eval', pred, ...SAMPLE, '-o', path.join(dir, out), '--reference', reference, '--threads', '1', '--json']
    return {s: JSON.parse(getok(args)), lines: jsonl(path.join(dir, out, 'eval.jsonl'))}
  }
  /** ms-swift infer results whose answers are the targets, as a model writes them (its end-of-turn marker left in) */
  const perfect = (records: Rec[], file: string) => {
    const rows = records.map((r) => perfectSwiftResult(r, '<|im_end|>'))
    writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
    return file
  }
  let pred: Rec[] = []
  let first: {s: Rec; lines: Rec[]}
  let trained: Rec[] = []

  beforeAll(() => {
    getok(['export', '--curated', CUR, '--offsets', OFF, '--format', 'swift', '-o', PRED, '--split', 'val', '--predict'])
    pred = jsonl(path.join(PRED, 'swift-val.jsonl'))
    first = evalOf(perfect(pred, path.join(dir, 'r1.jsonl')), path.join(PRED, 'swift-val.jsonl'), 'ev-pred')
    trained = jsonl(path.join(dir, 'ev0', 'eval.jsonl'))
  }, 120_000)

  it('eval of training data says its box-rule answers were the data file, and what to do instead', () => {
    // the finished run of the first describe: resumed, nothing decoded again
    const args = [
      'eval',
      path.join(dir, 'swift-pred.jsonl'),
      ...SAMPLE,
      '-o',
      path.join(dir, 'ev0'),
      '--reference',
      path.join(SWIFT, 'swift-val.jsonl'),
    ]
    const out = getok([...args, '--threads', '1'])
    const forced = swift.filter((r) => r.messages.length > 2 && !isRefine(r)).length
    expect(out).toContain(`${forced} answers before refinement came from the data file, not the model`)
    expect(out).toContain('getok export --predict, then --followup')
    expect(out).toMatch(new RegExp(`given answers\\s+${swift.filter((r) => r.messages.length > 2).length}\\s`))
  })

  it('predict data ends each conversation at the model first answer and names its objects', () => {
    const segs = pred.filter((r) => r.task === 'seg')
    // --min-iou is 0 for prediction: every object alone in its category, whatever its curated IoU
    expect(segs.length).toBe(
      curated.filter((c) => curated.filter((d) => d.image_id === c.image_id && d.category === c.category).length === 1).length,
    )
    for (const r of pred) {
      expect(r).toMatchObject({split: 'val', image_id: expect.any(Number), ann_ids: expect.any(Array), id: expect.any(String)})
      const texts = r.messages.map((m: Rec) => m.content)
      expect(texts.length).toBe(r.task === 'refine' ? 4 : 2)
      if (r.task === 'seg')
        expect(texts[1]).toBe(curated.find((c) => c.ann_id === r.ann_ids[0])!.box + curated.find((c) => c.ann_id === r.ann_ids[0])!.seg)
    }
    expect(manifestOf(PRED).config.predict).toBe(true)
  })

  it('eval scores the model own first answers: the same decoding as the data first turns', () => {
    expect(first.s).toMatchObject({samples: pred.length, failed: 0, unresolved: {count: 0}})
    // only the refine samples' simulated predictions are given to the model
    expect(first.s.answers_from_data).toBe(pred.filter((r) => r.task === 'refine').length)
    const segs = first.lines.filter((l) => l.task === 'seg')
    expect(segs.length).toBeGreaterThan(0)
    for (const l of segs) {
      expect(l.answer_from).toBe('model')
      expect(l.answer.endsWith('<|im_end|>')).toBe(true)
    }
    // the training export's eval decoded the same tokens, taken from the data's first turn
    const pairs = segs.flatMap((l) => trained.filter((t) => t.task === 'seg' && t.ann_ids[0] === l.ann_ids[0]).map((t) => [l, t]))
    expect(pairs.length).toBe(trained.filter((t) => t.task === 'seg').length)
    for (const [l, t] of pairs) expect([l.iou, t.answer_from]).toEqual([t.iou, 'data'])
    expect(first.s.by_task.seg.giou).toBeCloseTo(mean(segs.map((l) => l.iou)), 6)
  })

  it('the follow-up asks each box-rule seg and multi answer for its box offsets; eval gives back each record iou', () => {
    getok([
      'export',
      '--curated',
      CUR,
      '--offsets',
      OFF,
      '--format',
      'swift',
      '-o',
      NEXT,
      '--split',
      'val',
      '--followup',
      path.join(dir, 'r1.jsonl'),
    ])
    const next = jsonl(path.join(NEXT, 'swift-val.jsonl'))
    expect(next.map((r) => r.id).sort()).toEqual(
      pred
        .filter((r) => r.task === 'seg' || r.task === 'multi')
        .map((r) => r.id)
        .sort(),
    )
    for (const r of next) {
      const answer = pred.find((p) => p.id === r.id)!.messages[1].content
      expect(r.messages.map((m: Rec) => m.content).slice(1, 3)).toEqual([answer, 'Please refine the box corners with offset tokens.'])
      expect(r.messages[1].loss).toBe(false)
      expect(r.answer_from).toBe('model')
    }
    const second = evalOf(perfect(next, path.join(dir, 'r2.jsonl')), path.join(NEXT, 'swift-val.jsonl'), 'ev-next')
    expect(second.s).toMatchObject({samples: next.length, failed: 0, answers_from_data: 0, refined: {failed: 0}})
    for (const l of second.lines.filter((x) => x.task === 'seg')) {
      expect(Math.abs(l.refined.iou - curated.find((c) => c.ann_id === l.ann_ids[0])!.iou)).toBeLessThanOrEqual(1e-6)
      expect(l.iou).toBe(first.lines.find((f) => f.task === 'seg' && f.ann_ids[0] === l.ann_ids[0])!.iou)
    }
  }, 120_000)

  it('LLaMA-Factory: the follow-up lines its predictions up with the --predict data file', () => {
    const lf = path.join(dir, 'lf-pred')
    getok(['export', '--curated', CUR, '--offsets', OFF, '--format', 'llamafactory', '-o', lf, '--split', 'val', '--predict'])
    const data = path.join(lf, 'llamafactory-val.jsonl')
    const rows = jsonl(data).map((r) => ({prompt: '', predict: r.conversations.at(-1).value, label: ''}))
    writeFileSync(path.join(dir, 'gp1.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''))
    const out = path.join(dir, 'lf-next')
    getok(
      ['export', '--curated', CUR, '--offsets', OFF, '--format', 'llamafactory', '-o', out, '--split', 'val'].concat([
        '--followup',
        path.join(dir, 'gp1.jsonl'),
        '--reference',
        data,
      ]),
    )
    const swiftNext = jsonl(path.join(NEXT, 'swift-val.jsonl'))
    expect(jsonl(path.join(out, 'llamafactory-val.jsonl')).map((r) => r.conversations.map((t: Rec) => t.value).slice(1))).toEqual(
      swiftNext.map((r) => r.messages.map((m: Rec) => m.content).slice(1)),
    )
  })

  it('refuses predictions that name no conversation, and says how to make ones that do', () => {
    const r = spawnSync(
      'node',
      [
        BIN,
        'export',
        '--curated',
        CUR,
        '--format',
        'swift',
        '-o',
        path.join(dir, 'no-next'),
        '--followup',
        path.join(dir, 'swift-pred.jsonl'),
      ],
      {encoding: 'utf8'},
    )
    expect(r.status).toBe(2)
    expect(r.stderr.replace(/\s+/g, ' ')).toMatch(
      /swift-pred\.jsonl, field "id": no prediction names the conversation.*getok export --predict/,
    )
  })
})

describe('offsets --curated on box-rule records', () => {
  it('names the rule, and its box targets are the records box_offsets', () => {
    expect(offsets).toHaveLength(12)
    for (const o of offsets) {
      const c = curated.find((x) => x.ann_id === o.ann_id)!
      expect(o.decode).toBe('box')
      expect(o.box_prev).toBe(c.box)
      expect(o.box_target).toBe(c.box_offsets)
      expect(o.box_from_curated).toBeUndefined()
    }
    expect(manifestOf(OFF).summary.curated).toEqual({joined: 12, missing: 0, box_rule: 12, box_from_curated: 0})
  })

  it('with --flip-v the same moves in the flipped dv sign', () => {
    const out = path.join(dir, 'off-flip')
    getok(['offsets', ...SAMPLE, '-o', out, '--grid', '16', '--curated', CUR, '--flip-v'])
    for (const o of jsonl(path.join(out, 'offsets-00000-of-00001.jsonl'))) {
      const c = curated.find((x) => x.ann_id === o.ann_id)!
      const flipped = c.box_offsets.replace(/<OFF_(-?\d)_(-?\d)>/g, (_m: string, du: string, dv: string) => `<OFF_${du}_${-Number(dv)}>`)
      expect(o.box_target).toBe(flipped)
    }
  })

  it('where a record box_offsets differ from the moves offsets computes, the record wins and says so', () => {
    const cur = path.join(dir, 'cur-edited')
    cpSync(CUR, cur, {recursive: true})
    const edited = curated.map((c, k) => (k === 0 ? {...c, box_offsets: '<offset><box><OFF_0_0><OFF_0_0></box></offset>'} : c))
    expect(edited[0].box_offsets).not.toBe(curated[0].box_offsets)
    writeFileSync(path.join(cur, 'curate-00000-of-00001.jsonl'), edited.map((c) => JSON.stringify(c) + '\n').join(''))
    const out = path.join(dir, 'off-edited')
    getok(['offsets', ...SAMPLE, '-o', out, '--grid', '16', '--curated', cur])
    const rec = jsonl(path.join(out, 'offsets-00000-of-00001.jsonl')).find((o) => o.ann_id === curated[0].ann_id)!
    expect(rec).toMatchObject({
      box_target: edited[0].box_offsets,
      box_offsets: [
        [0, 0],
        [0, 0],
      ],
      box_from_curated: true,
    })
    expect(manifestOf(out).summary.curated).toMatchObject({box_rule: 12, box_from_curated: 1})
  })

  it('union records: no decode field where the curate record has none', () => {
    const out = path.join(dir, 'off-union')
    getok(['offsets', ...SAMPLE, '-o', out, '--grid', '16', '--curated', 'fixtures/curated-sample'])
    expect(jsonl(path.join(out, 'offsets-00000-of-00001.jsonl')).some((o) => 'decode' in o || 'box_from_curated' in o)).toBe(false)
    expect(manifestOf(out).summary.curated).toEqual({joined: 12, missing: 0})
  })
})

describe('union export is unchanged by the box rule', () => {
  // sha256 of the data files getok wrote for fixtures/curated-sample + offsets-sample (--split val) before the box
  // rule reached export (commit c8fb563): union records (no decode field) must export byte for byte as then
  const BEFORE: Record<string, string> = {
    swift: 'c3e1610bcf433e2ed42f7aa028dff0da2946cdba835ecf249473b61495d7cda4',
    llamafactory: '9cd747e103e0251850f17a21bde2d8abe82bcd20d6d4f094b0bd584af38d0085',
    llava: 'b72695c7971bc0d110918d3c608bb1262a8487d277c4b6390f897d79ae5e967b',
    qwen: 'f6fcff31ac65b8012cb554839abd2a79f17b6f76e5d726b9d023daafcb7b2dc5',
  }

  it('gives the same bytes in every format, and a manifest naming the union rule', () => {
    for (const format of EXPORT_FORMATS) {
      const out = path.join(dir, `union-${format}`)
      getok([
        'export',
        '--curated',
        'fixtures/curated-sample',
        '--offsets',
        'fixtures/offsets-sample',
        '--format',
        format,
        '-o',
        out,
        '--split',
        'val',
      ])
      const file = `${format}-val.${format === 'llava' ? 'json' : 'jsonl'}`
      expect(
        createHash('sha256')
          .update(readFileSync(path.join(out, file)))
          .digest('hex'),
      ).toBe(BEFORE[format])
      expect(manifestOf(out).config.decode).toBe('union')
    }
  }, 60_000)
})
