import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {annotationToMask} from '../../../src/core/coco/records.js'
import {cellToAnchor} from '../../../src/core/grid/grid.js'
import type {EvalLine} from '../../../src/core/eval/summary.js'
import {type EvalRunInput, runEval} from '../../../src/pipeline/eval/eval-run.js'
import {encodeImageFile} from '../../../src/pipeline/shared/encode-image.js'
import {groundTruthCache} from '../../../src/pipeline/eval/eval-lines.js'
import {scoreImageSamples} from '../../../src/pipeline/eval/score-samples.js'
import {SamEngine} from '../../../src/sam/engine.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'

const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const CURATED = 'fixtures/curated-sample'

interface Curated {
  image_id: number
  ann_id: number
  points: [number, number][]
  seg: string
  box: string
  iou: number
  width: number
  height: number
}
const records: Curated[] = readFileSync(path.join(CURATED, 'curate-00000-of-00001.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))

let engine: SamEngine
const tmp = () => mkdtempSync(path.join(tmpdir(), 'getok-eval-'))

function writeRows(rows: unknown[]): string {
  const file = path.join(tmp(), 'predictions.jsonl')
  writeFileSync(file, rows.map((r) => JSON.stringify(r) + '\n').join(''))
  return file
}

function input(predictions: string, out: string, extra: Partial<EvalRunInput> = {}): EvalRunInput {
  return {
    predictions,
    annotations: ANN,
    images: IMAGES,
    out,
    decode: {curated: CURATED},
    shardSize: 2,
    batch: 4,
    strict: false,
    overwrite: false,
    engine: async () => engine,
    modelFiles: defaultModelFiles(),
    ...extra,
  }
}

const readLines = (out: string): EvalLine[] =>
  readFileSync(path.join(out, 'eval.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))

beforeAll(async () => {
  engine = await SamEngine.load({threads: 1})
})
afterAll(async () => {
  await engine.release()
})

describe('getok eval on real SAM', () => {
  it("answers equal to the curated records reproduce each record's iou: gIoU is their mean", async () => {
    const out = tmp()
    const predictions = writeRows(records.map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.seg, split: 'val'})))
    const result = await runEval(input(predictions, out))
    const lines = readLines(out)
    expect(lines).toHaveLength(records.length)
    lines.forEach((l, k) => {
      expect(l.ann_ids).toEqual([records[k].ann_id])
      expect(l.iou).toBeCloseTo(records[k].iou, 5)
    })
    const mean = records.reduce((s, r) => s + r.iou, 0) / records.length
    expect(result.summary.giou).toBeCloseTo(mean, 5)
    expect(result.summary.by_split.val.by_task.seg.giou).toBeCloseTo(mean, 5)
    expect(result.summary).toMatchObject({samples: 12, failed: 0, unresolved: {count: 0}, skipped: {count: 0}})
    expect(result.summary.decode).toMatchObject({grid: 16, rule: 'union', policy: 'single'})
    // resume: the same command finds every image done and writes the same lines
    const again = await runEval(input(predictions, out))
    expect(again.resumed).toBe(again.images)
    expect(readLines(out)).toEqual(lines)
    // other predictions in the same folder are refused
    await expect(runEval(input(writeRows([{image_id: 25560, ann_id: 29572, answer: '<grid_1_1>'}]), out))).rejects.toThrow(/predictions/)
  })

  it('an answer with one grid point moved off the object scores lower', async () => {
    const data = await readCoco(ANN)
    const many = records.filter((r) => r.points.length >= 2)
    expect(many.length).toBeGreaterThanOrEqual(4)
    const embeddings: Record<number, Awaited<ReturnType<typeof encodeImageFile>>> = {}
    for (const r of many) {
      const image = data.images.get(r.image_id)!
      const g = annotationToMask(
        data.annotationsByImage.get(r.image_id)!.find((a) => a.id === r.ann_id)!,
        image,
      )
      const frame = {n: 16, width: image.width, height: image.height}
      // the grid point farthest from the object's first point whose anchor is outside the object
      const [fi, fj] = r.points[0]
      let off: [number, number] = [0, 0]
      let best = -1
      for (let j = 0; j < 16; j++)
        for (let i = 0; i < 16; i++) {
          const [x, y] = cellToAnchor(i, j, frame)
          const d = (i - fi) ** 2 + (j - fj) ** 2
          if (g.data[Math.floor(y) * image.width + Math.floor(x)] === 0 && d > best) [off, best] = [[i, j], d]
        }
      const moved = [off, ...r.points.slice(1)].map(([i, j]) => `<grid_${i}_${j}>`).join('')
      const embedding = (embeddings[image.id] ??= await encodeImageFile(engine, image, path.join(IMAGES, image.fileName)))
      const gt = groundTruthCache(data, image)([r.ann_id])
      const scorer = {engine, settings: {n: 16, rule: 'union' as const, flipV: false}, policy: 'single' as const, batch: 4}
      const [orig, shifted] = await scoreImageSamples(scorer, image, embedding, [
        {sample: {image_id: r.image_id, ann_ids: [r.ann_id], split: 'x', answer: r.seg}, gt},
        {sample: {image_id: r.image_id, ann_ids: [r.ann_id], split: 'x', answer: `<seg>${moved}</seg>`}, gt},
      ])
      expect(orig.score.iou).toBeCloseTo(r.iou, 5)
      expect(shifted.score.iou!).toBeLessThan(orig.score.iou!)
    }
  })

  it('counts malformed answers by reason, scores them 0 and never stops; rows it cannot place are listed', async () => {
    const [r] = records
    const at = {image_id: r.image_id, ann_id: r.ann_id}
    const rows = [
      {...at, answer: r.seg},
      {...at, answer: ''},
      {...at, answer: 'The television is on the left.'},
      {...at, answer: '<seg><grid_3_3>'},
      {...at, answer: '<seg><grid_3_3><grid_16_0></seg>'},
      {...at, answer: '<seg></seg>'},
      {...at, answer: r.seg, refinement: '<offset><seg><OFF_0_0><OFF_0_0></seg></offset>'},
      {image_id: r.image_id, ann_id: 999999, answer: r.seg},
      {image_id: r.image_id, answer: r.seg},
      {...at},
    ]
    const out = tmp()
    const {summary} = await runEval(input(writeRows(rows), out))
    expect(summary.samples).toBe(7)
    expect(summary.failed).toBe(5)
    expect(summary.failure_reasons).toEqual({empty: 1, no_tokens: 1, parse_error: 1, out_of_grid: 1, no_mask: 1})
    expect(summary.refined).toMatchObject({samples: 1, failed: 1, failure_reasons: {refinement_mismatch: 1}})
    expect(summary.giou).toBeCloseTo((2 * r.iou) / 7, 5)
    expect(summary.unresolved.count).toBe(3)
    expect(summary.unresolved.lines.map((l) => l.line)).toEqual([10, 8, 9])
    expect(summary.unresolved.lines.find((l) => l.line === 8)!.reason).toMatch(/annotation 999999 not found/)
    const lines = readLines(out)
    expect(lines.map((l) => l.failure ?? null)).toEqual([null, 'empty', 'no_tokens', 'parse_error', 'out_of_grid', 'no_mask', null])
    expect(lines.slice(1, 6).every((l) => l.iou === 0 && l.format_ok === false)).toBe(true)
  })

  it('box Acc@0.5 from the box tokens matches a hand computation', async () => {
    const data = await readCoco(ANN)
    const out = tmp()
    const {summary} = await runEval(input(writeRows(records.map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.box}))), out))
    // by hand: the corner cells' anchors ((i + 0.5)·W/n, (j + 0.5)·H/n) against the COCO box
    const hand = records.map((r) => {
      const [[i0, j0], [i1, j1]] = [...r.box.matchAll(/<grid_(\d+)_(\d+)>/g)].map((m) => [Number(m[1]), Number(m[2])])
      const cw = r.width / 16
      const ch = r.height / 16
      const [px0, py0, px1, py1] = [(i0 + 0.5) * cw, (j0 + 0.5) * ch, (i1 + 0.5) * cw, (j1 + 0.5) * ch]
      const [gx, gy, gw, gh] = data.annotationsByImage.get(r.image_id)!.find((a) => a.id === r.ann_id)!.bbox
      const iw = Math.max(0, Math.min(px1, gx + gw) - Math.max(px0, gx))
      const ih = Math.max(0, Math.min(py1, gy + gh) - Math.max(py0, gy))
      return (iw * ih) / ((px1 - px0) * (py1 - py0) + gw * gh - iw * ih)
    })
    // two of them worked out on paper: the cup (image 25560, cells 40×30 px): anchors (20, 435)–(60, 465) lie inside its
    // box [0.46, 423.5, 78.27, 56.5], so 1200 / 4422.3 = 0.271; the book (500×375, cells 31.25×23.4375 px): 0.520
    expect(hand[records.findIndex((r) => r.ann_id === 1501321)]).toBeCloseTo(1200 / (78.27 * 56.5), 3)
    expect(hand[records.findIndex((r) => r.ann_id === 1652246)]).toBeCloseTo(0.52, 2)
    const lines = readLines(out)
    lines.forEach((l, k) => expect(l.box_iou).toBeCloseTo(hand[k], 5))
    expect(summary.box_acc50).toBeCloseTo(hand.filter((v) => v >= 0.5).length / hand.length, 6)
    expect(summary.by_task.box).toMatchObject({samples: 12, box_samples: 12, mask_samples: 0})
  })

  it('decodes under the box rule when told: one prompt of box and points; an answer without a box fails as no_box', async () => {
    const out = tmp()
    const picked = records.slice(0, 4)
    const rows = [
      ...picked.map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.box + r.seg})),
      {image_id: picked[0].image_id, ann_id: picked[0].ann_id, answer: picked[0].seg},
    ]
    const {summary} = await runEval(input(writeRows(rows), out, {decode: {curated: CURATED, rule: 'box'}}))
    expect(summary.decode).toMatchObject({rule: 'box', source: {rule: '--decode'}})
    const lines = readLines(out)
    expect(lines.slice(0, 4).every((l) => l.format_ok && l.iou! > 0.3 && l.box_iou !== null)).toBe(true)
    expect(lines[4]).toMatchObject({failure: 'no_box', iou: 0, box_iou: 0})
    expect(summary.box_samples).toBe(5)
  })
})
