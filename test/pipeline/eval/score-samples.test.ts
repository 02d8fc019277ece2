import {readFileSync} from 'node:fs'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import type {CocoDataset, CocoImage} from '../../../src/adapters/coco.js'
import {type EvalSample, type EvalSettings, planSample} from '../../../src/core/eval/plan.js'
import {scoreSample} from '../../../src/core/eval/score.js'
import {groundTruthCache} from '../../../src/pipeline/eval/eval-lines.js'
import {masksForPrompts} from '../../../src/pipeline/decode/decode.js'
import {scoreImageSamples} from '../../../src/pipeline/eval/score-samples.js'
import {encodeImageFile} from '../../../src/pipeline/shared/encode-image.js'
import {type ImageEmbedding, SamEngine} from '../../../src/sam/engine.js'

// Real SAM on image 25560 of fixtures/sample (4 curated objects at n = 16, union rule): a prediction
// file that repeats answers must decode each distinct prompt once and score exactly as without sharing.
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const IMAGE_ID = 25560

interface Curated {
  image_id: number
  ann_id: number
  points: [number, number][]
  seg: string
}
const records: Curated[] = readFileSync('fixtures/curated-sample/curate-00000-of-00001.jsonl', 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))
  .filter((r: Curated) => r.image_id === IMAGE_ID)

const settings: EvalSettings = {n: 16, rule: 'union', flipV: false}
let engine: SamEngine
let data: CocoDataset
let image: CocoImage
let embedding: ImageEmbedding

beforeAll(async () => {
  engine = await SamEngine.load({threads: 1})
  data = await readCoco(ANN)
  image = data.images.get(IMAGE_ID)!
  embedding = await encodeImageFile(engine, image, path.join(IMAGES, image.fileName))
})
afterAll(async () => engine?.release())

describe('scoreImageSamples: identical prompts decoded once', () => {
  it('decodes each distinct prompt of an image once, with the scores of decoding every prompt on its own', async () => {
    expect(records.length).toBe(4)
    const gt = groundTruthCache(data, image)
    const keep = (r: Curated) => `<offset><seg>${r.points.map(() => '<OFF_0_0>').join('')}</seg></offset>`
    const sample = (r: Curated, extra: Partial<EvalSample> = {}): EvalSample => ({
      image_id: IMAGE_ID,
      ann_ids: [r.ann_id],
      split: 'val',
      answer: r.seg,
      ...extra,
    })
    // every answer twice, and once more with a refinement that keeps every point: three turns, one set of prompts
    const samples = [
      ...records.map((r) => sample(r)),
      ...records.map((r) => sample(r)),
      ...records.map((r) => sample(r, {task: 'refine', refinement: keep(r)})),
    ]
    const items = samples.map((s) => ({sample: s, gt: gt(s.ann_ids)}))

    const calls0 = engine.decoderCalls
    const scorer = {engine, settings, policy: 'single' as const, batch: 1}
    const scored = await scoreImageSamples(scorer, image, embedding, items)
    const calls = engine.decoderCalls - calls0

    // union rule: one prompt per point; the distinct prompts are the distinct points of the four records
    const turns = samples.length + records.length
    const total = records.reduce((s, r) => s + r.points.length, 0) * (turns / records.length)
    const distinct = new Set(records.flatMap((r) => r.points.map(([i, j]) => `${i},${j}`))).size
    expect(calls).toBe(distinct)
    expect(calls).toBeLessThan(total / 2)

    // the reference: each turn's prompts decoded alone, no sharing of any kind
    const frame = {n: settings.n, width: image.width, height: image.height}
    for (const [k, it] of items.entries()) {
      const plan = planSample(it.sample, frame, settings)
      const answer = await masksForPrompts(engine, embedding, plan.answer.prompts, 'single')
      const refined = plan.refined ? await masksForPrompts(engine, embedding, plan.refined.prompts, 'single') : undefined
      const alone = scoreSample(plan, {answer, refined}, it.gt, frame, settings)
      expect(scored[k].score, `sample ${k}`).toEqual(alone)
    }
    // the refinement that moves nothing scores what the answer scores, and the repeats what the first scored
    for (let k = 0; k < records.length; k++) {
      expect(scored[k + 4].score).toEqual(scored[k].score)
      expect(scored[k + 8].score.refined!.iou).toBe(scored[k].score.iou)
      expect(scored[k].score.iou).toBeGreaterThan(0.5)
    }
  })
})
