/**
 * The decoder graphs getok derives from a standard SAM ONNX decoder, at load
 * time and in memory (about 0.1 s, so nothing is cached on disk):
 *
 * 1. `deriveAllMasksDecoder`: all four mask tokens and their scores, for a
 *    batch of prompts, without the full-resolution `masks` output.
 * 2. For the CPU, also: channel LayerNorms fused (fuse-layer-norm.ts), the
 *    cross-attentions' products with the per-prompt image tokens reassociated
 *    (factor-attention.ts), the output upscaling's transposed convolutions
 *    as matrix products on sub-pixels (subpixel-upscaling.ts), and
 *    `splitDecoder`: the graph cut in two. The
 *    image side computes, once per image, what does not depend on the
 *    prompts' values (the image tokens, the dense mask embedding added, their
 *    positional encoding and the first layer's projections of them); the prompt
 *    side takes those as inputs and runs per prompt batch (see
 *    `imageSideValues` for where it cuts and why batches stay right).
 * 3. On demand, `crossImageDecoder`: the per-prompt graph taking the prompts
 *    of several images in one run (cross-image-batcher.ts).
 */
import {GetokError} from '../core/errors.js'
import {factorCrossAttention} from './rewrites/factor-attention.js'
import {fuseChannelLayerNorms} from './rewrites/fuse-layer-norm.js'
import {subpixelUpscaling} from './rewrites/subpixel-upscaling.js'
import {quantizeInt8} from './rewrites/quantize-int8.js'
import {DATA_TYPE, GRAPH, MODEL, VALUE_INFO, tensorValueInfo} from './onnx-messages.js'
import {ProtobufWireError} from './protobuf-wire.js'
import {
  type GraphNode,
  type OpenGraph,
  bytesField,
  concat,
  deriveGraph,
  fieldName,
  makeNode,
  openGraph,
  parseFields,
  pruneGraph,
  renameNode,
  rewriteGraph,
} from './onnx-wire.js'

const PROMPT_INPUTS = ['point_coords', 'point_labels']
const PROMPT_DIMS = {point_coords: ['batch', 'num_points', 2], point_labels: ['batch', 'num_points']}
const OUTPUTS = ['all_low_res_masks', 'all_iou_predictions']
/** Ops whose image-side operand may keep batch 1 while the other has batch B. */
const BROADCASTING = new Set(['MatMul', 'Add', 'Sub', 'Mul', 'Div'])
/** Work that makes a value worth computing once per image instead of per prompt. */
const HEAVY = new Set(['MatMul', 'Gemm', 'Conv', 'Transpose', 'Tile'])

/** The graph's nodes and who produces and reads each value (empty for bytes that hold no graph). */
function graphOf(model: Uint8Array): Pick<OpenGraph, 'nodes' | 'producer' | 'users'> {
  return openGraph(model) ?? {nodes: [], producer: new Map(), users: new Map()}
}

/** The decoder file's graph; bytes that are no ONNX model are a GetokError naming the file, as a bad --encoder is. */
function readDecoderGraph(decoder: Uint8Array, file: string): ReturnType<typeof graphOf> {
  try {
    return graphOf(decoder)
  } catch (error) {
    if (!(error instanceof ProtobufWireError)) throw error
    throw new GetokError(`not an ONNX model (${error.message})`, {file}, 'a SAM ONNX decoder (--decoder)')
  }
}

/**
 * Find, in a standard SAM ONNX decoder, the values before the one-of-four mask
 * selection and make them the graph outputs; drop the full-resolution upsampling.
 * The walk goes back from `low_res_masks` / `iou_predictions` through the
 * selection ops (Unsqueeze, Reshape, Gather, Flatten) to the first other op.
 */
export function deriveAllMasksDecoder(decoder: Uint8Array, file = 'decoder'): Uint8Array {
  const {producer} = readDecoderGraph(decoder, file)
  const before = (output: string): string => {
    let value = output
    for (let n = producer.get(value); n && ['Unsqueeze', 'Reshape', 'Gather', 'Flatten'].includes(n.opType); n = producer.get(value)) {
      value = n.inputs[0]
    }
    if (value === output) {
      throw new GetokError(
        'decoder graph is not a standard SAM ONNX decoder (no mask selection before its outputs)',
        {file},
        `an output named ${output}`,
      )
    }
    return value
  }
  return deriveGraph(
    decoder,
    [
      {from: before('low_res_masks'), as: OUTPUTS[0]}, // [B,4,256,256]
      {from: before('iou_predictions'), as: OUTPUTS[1]}, // [B,4]
    ],
    PROMPT_DIMS,
  )
}

/**
 * Which values the prompts reach. ONNX nodes come in topological order, so one
 * pass labels every value: `batched` if a prompt input reaches it at all,
 * `fromPrompt` if other than through a Shape (its value, not only its batch size).
 */
function promptReach(nodes: readonly GraphNode[]): {batched: Set<string>; fromPrompt: Set<string>} {
  const batched = new Set(PROMPT_INPUTS)
  const fromPrompt = new Set(PROMPT_INPUTS)
  for (const n of nodes) {
    if (n.inputs.some((i) => batched.has(i))) for (const o of n.outputs) batched.add(o)
    if (n.opType !== 'Shape' && n.inputs.some((i) => fromPrompt.has(i))) for (const o of n.outputs) fromPrompt.add(o)
  }
  return {batched, fromPrompt}
}

/**
 * Values the prompt side takes from the image side. Where prompts enter the
 * graph only through a Shape op (their batch size), the decoder does work that
 * is the same for every prompt: SAM repeats the image tokens once per prompt
 * and projects them. The cut is at the last such values before the per-prompt
 * work, when some heavy op (or the image embedding) lies behind them:
 * - values no prompt reaches at all (the dense mask embedding): the same at
 *   every batch size, so exact whoever reads them;
 * - values the prompts reach only through their batch size: computed at batch 1,
 *   so every op of the prompt side that reads one must broadcast it against a
 *   prompt-dependent operand, which brings the batch. Where one does not (a
 *   Shape, say), the cut moves up to that value's own inputs.
 */
export function imageSideValues(allMasksDecoder: Uint8Array): string[] {
  const {nodes, producer, users} = graphOf(allMasksDecoder)
  const {batched, fromPrompt} = promptReach(nodes)
  const heavy = new Map<string, boolean>()
  const isHeavy = (v: string): boolean => {
    if (heavy.has(v)) return heavy.get(v)!
    const n = producer.get(v)
    // A graph input (the embedding) is heavy: it is what the image side repeats per prompt.
    const result =
      n === undefined
        ? v === 'image_embeddings'
        : n.opType !== 'Shape' && (HEAVY.has(n.opType) || n.inputs.some((i) => i !== '' && isHeavy(i)))
    heavy.set(v, result)
    return result
  }
  const cut = new Set<string>()
  for (const [v, n] of producer) {
    if (fromPrompt.has(v) || n.opType === 'Constant' || !isHeavy(v)) continue
    if (batched.has(v) || (users.get(v) ?? []).some((u) => u.outputs.some((o) => batched.has(o)))) cut.add(v)
  }
  const broadcasts = (u: GraphNode) => BROADCASTING.has(u.opType) && u.outputs.every((o) => fromPrompt.has(o))
  for (;;) {
    // what the prompt side computes with this cut: walk back from the outputs, stopping at cut values
    const kept = new Set<GraphNode>()
    const read = new Set<string>()
    const stack = OUTPUTS.map((o) => producer.get(o)!)
    while (stack.length > 0) {
      const n = stack.pop()!
      if (kept.has(n)) continue
      kept.add(n)
      for (const i of n.inputs) {
        if (cut.has(i)) read.add(i)
        else if (producer.has(i)) stack.push(producer.get(i)!)
      }
    }
    const unsafe = [...read].filter((v) => batched.has(v) && !(users.get(v) ?? []).filter((u) => kept.has(u)).every(broadcasts))
    if (unsafe.length === 0) return [...cut].filter((v) => read.has(v))
    for (const v of unsafe) cut.delete(v)
  }
}

/** The image side's k-th output is the prompt side's input named cut[k]. */
export const imageSideOutput = (k: number) => `image_side_${k}`

export interface SplitDecoder {
  /** graph: the decoder's usual inputs (a dummy prompt of batch 1 will do) → image_side_k for each cut value */
  imageSide: Uint8Array
  /** graph: the decoder's inputs plus the `cut` values → all_low_res_masks, all_iou_predictions */
  promptSide: Uint8Array
  cut: string[]
}

/** Cut the all-masks decoder in two; undefined when nothing is worth caching per image. */
export function splitDecoder(allMasksDecoder: Uint8Array): SplitDecoder | undefined {
  const cut = imageSideValues(allMasksDecoder)
  if (cut.length === 0) return undefined
  const {producer} = graphOf(allMasksDecoder)
  return {
    imageSide: deriveGraph(
      allMasksDecoder,
      cut.map((v, k) => ({from: v, as: imageSideOutput(k)})),
      PROMPT_DIMS,
    ),
    promptSide: deriveGraph(
      allMasksDecoder,
      OUTPUTS.map((o) => ({from: producer.get(o)!.inputs[0], as: o})),
      PROMPT_DIMS,
      cut,
    ),
    cut,
  }
}

export interface DecoderGraphs {
  /** run per prompt batch */
  prompt: Uint8Array
  /** run once per image, when the decoder is split */
  image?: {graph: Uint8Array; cut: string[]}
}

/**
 * The all-masks decoder with its channel LayerNorms fused, its cross-attentions factored and its
 * output upscaling run on sub-pixels (same values to float rounding).
 */
export function rewriteForCpu(allMasksDecoder: Uint8Array): Uint8Array {
  const fused = fuseChannelLayerNorms(allMasksDecoder).model
  const {fromPrompt} = promptReach(graphOf(fused).nodes)
  return subpixelUpscaling(factorCrossAttention(fused, (v) => fromPrompt.has(v)).model).model
}

/**
 * What the engine runs. `rewrite` adds the CPU rewrites: fused channel
 * LayerNorms, factored cross-attentions and the image/prompt split (logits
 * within ~1e-4 of the plain graph's, where they reach ±100; docs/benchmarks.md
 * has what they save).
 */
export function decoderGraphs(shipped: Uint8Array, file: string, rewrite: boolean, options: {quantize?: boolean} = {}): DecoderGraphs {
  const graphs = plainOrRewritten(shipped, file, rewrite)
  // int8 products in the graph run per prompt (rewrites/quantize-int8.ts; an option: the values change)
  return options.quantize ? {...graphs, prompt: quantizeInt8(graphs.prompt).model} : graphs
}

function plainOrRewritten(shipped: Uint8Array, file: string, rewrite: boolean): DecoderGraphs {
  if (!rewrite) return {prompt: deriveAllMasksDecoder(shipped, file)}
  const rewritten = rewriteForCpu(deriveAllMasksDecoder(shipped, file))
  const split = splitDecoder(rewritten)
  return split ? {prompt: split.promptSide, image: {graph: split.imageSide, cut: split.cut}} : {prompt: rewritten}
}

/** Input of the cross-image decoder: for each prompt, the index of its image among the stacked ones. */
export const PROMPT_IMAGE = 'prompt_image'
export const EMBEDDING = 'image_embeddings'

/** The embedding repeated once per prompt: the end of its Unsqueeze/Tile/Reshape chain (torch.repeat_interleave as exported). */
function repeatedEmbedding(g: OpenGraph, file: string): string {
  let value = EMBEDDING
  let repeats = false
  for (;;) {
    const next = (g.users.get(value) ?? []).find(
      (u) => ['Unsqueeze', 'Tile', 'Expand', 'Reshape'].includes(u.opType) && u.inputs[0] === value,
    )
    if (!next) break
    repeats ||= next.opType === 'Tile' || next.opType === 'Expand'
    value = next.outputs[0]
  }
  if (!repeats) {
    throw new GetokError('decoder graph does not repeat its image embedding per prompt as SAM exports do', {file}, `a Tile of ${EMBEDDING}`)
  }
  return value
}

/**
 * The per-prompt decoder made to take the prompts of several images in one run. Each of `perImage`
 * (inputs holding one image's values: the embedding, or the split decoder's image side) is fed
 * stacked over the run's images, [I, …], and `prompt_image` [B] (int64) names each prompt's image.
 * A Gather gives every prompt its image's values where the graph read them: for the embedding,
 * in place of SAM's repeat of it per prompt (then pruned); for image-side values, at batch B
 * where they were broadcast from batch 1. The arithmetic per prompt is the source graph's.
 */
export function crossImageDecoder(prompt: Uint8Array, perImage: readonly string[], file = 'decoder'): Uint8Array {
  const g = openGraph(prompt)
  if (!g) throw new GetokError('decoder graph has no graph', {file})
  const switched = new Map(perImage.map((source) => [source === EMBEDDING ? repeatedEmbedding(g, file) : source, source]))
  const rename = (v: string) => (switched.has(v) ? `${v}/per_prompt` : v)
  const replace = new Map<GraphNode, Uint8Array[]>()
  for (const n of g.nodes) if (n.inputs.some((i) => switched.has(i))) replace.set(n, [renameNode(n, rename, n.name)])
  const first = g.nodes.find((n) => replace.has(n))
  if (!first) throw new GetokError('decoder graph reads none of its per-image inputs', {file}, perImage.join(', '))
  // the sources are graph inputs, so the Gathers may stand anywhere before their first reader
  const gathers = [...switched].map(([from, source], k) =>
    makeNode('Gather', [source, PROMPT_IMAGE], [rename(from)], `cross_image_gather_${k}`, {axis: {int: 0}}),
  )
  replace.set(first, [...gathers, ...replace.get(first)!])
  return pruneGraph(withCrossImageInputs(rewriteGraph(g, replace, []), perImage))
}

/** The per-image inputs re-declared without a shape (their first axis is now the run's images), `prompt_image` added. */
function withCrossImageInputs(model: Uint8Array, perImage: readonly string[]): Uint8Array {
  const redeclare = new Set(perImage)
  const graph = (body: Uint8Array) =>
    concat([
      ...parseFields(body).map((f) =>
        f.no === GRAPH.input && redeclare.has(fieldName(f, VALUE_INFO.name))
          ? bytesField(GRAPH.input, tensorValueInfo(fieldName(f, VALUE_INFO.name), DATA_TYPE.FLOAT))
          : f.raw,
      ),
      bytesField(GRAPH.input, tensorValueInfo(PROMPT_IMAGE, DATA_TYPE.INT64, ['batch'])),
    ])
  return concat(parseFields(model).map((f) => (f.no === MODEL.graph ? bytesField(MODEL.graph, graph(f.body!)) : f.raw)))
}
