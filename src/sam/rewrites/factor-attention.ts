/**
 * Reassociate the products of SAM's cross-attentions, where one side is the
 * 4096 image tokens and the other the handful of prompt tokens (the IoU and
 * mask tokens and the points: 7 for one click). As exported, the image side is
 * projected to the attention width before and after the attention: four
 * 4096×256×128 products per module and prompt. Multiplying the small side
 * through the projection weights instead gives the same values (to float
 * rounding) at 4096×256×(heads × small tokens) = 4096×256×56 each:
 *
 * image → token (queries are image tokens x, keys and values tokens):
 *   scores_h = (x·Wq_h + bq_h)·K_hᵀ / s = x·(Wq_h·K_hᵀ / s) + bq_h·K_hᵀ / s
 *   out      = Σ_h P_h·(V_h·Wo_h) + bo
 * token → image (queries are tokens, keys xk and values xv image tokens):
 *   scores_h = Q_h·(xk·Wk_h + bk_h)ᵀ / s = (Q_h·Wk_hᵀ / s)·xkᵀ + (a term constant
 *              along the softmax axis, which the softmax ignores)
 *   out_h    = P_h·(xv·Wv_h + bv_h) = (P_h·xv)·Wv_h + bv_h   (the rows of P_h sum to 1)
 *
 * Only products on a per-prompt image side are worth reassociating: where the
 * image tokens are the same for every prompt (the first layer's queries, keys
 * and values), their projection is computed once per image by the split
 * decoder (sam-graph.ts) and stays. The direction of a module comes from the
 * names PyTorch gives SAM's attention modules in the export (`…image_to_token…`,
 * `…token_to_image…`); modules named otherwise, or shaped otherwise, are left
 * as they are.
 */
import {
  type GraphNode,
  type OpenGraph,
  constantFloats,
  floatTensor,
  int64Tensor,
  isLastAxis,
  makeNode,
  openGraph,
  permIs,
  pruneGraph,
  readTensor,
  rewriteGraph,
} from '../onnx-wire.js'

interface Projection {
  /** the projection's input: [B, N, C] */
  x: string
  /** weight [C, D] and bias [D] */
  w: Float32Array
  b: Float32Array
  /** the projected value split into heads (as the export computes it) */
  heads: string
}

interface AttentionMatch {
  direction: 'image_to_token' | 'token_to_image'
  q: Projection
  k: Projection
  v: Projection
  /** softmax output [B, H, Nq, Nk] */
  probs: string
  /** the out projection: its initializer's name, and its values [D, C] */
  outWeight: string
  outW: Float32Array
  outBias: string
  /** the module's output, after the out projection */
  y: string
  /** the node whose output is y: the replacement goes in its place */
  last: GraphNode
  scale: number
  heads: number
  width: number
  modelDim: number
}

/** Rearranges a [C, H·d] projection weight into per-head blocks, scaled. */
function perHead(w: Float32Array, rows: number, heads: number, d: number, layout: 'HCd' | 'HdC', scale = 1): Float32Array {
  const out = new Float32Array(w.length)
  for (let c = 0; c < rows; c++)
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < d; j++) {
        const value = w[c * heads * d + h * d + j] * scale
        out[layout === 'HCd' ? (h * rows + c) * d + j : (h * d + j) * rows + c] = value
      }
  return out
}

const weights = (g: OpenGraph, value: string) => {
  const init = g.initializers.get(value)
  return init ? readTensor(init) : undefined
}

/** The one reader of a value besides Shape ops (the export's reshape arithmetic, dead once the module is replaced). */
function onlyReader(g: OpenGraph, value: string, op: string): GraphNode | undefined {
  const u = (g.users.get(value) ?? []).filter((n) => n.opType !== 'Shape')
  return u.length === 1 && u[0].opType === op ? u[0] : undefined
}

/** x·W + b → Reshape → Transpose(perm): the value's projection, or undefined. */
function projection(g: OpenGraph, heads: string, perm: number[]): Projection | undefined {
  const t = g.producer.get(heads)
  const r = t && permIs(t, perm) ? g.producer.get(t.inputs[0]) : undefined
  const add = r?.opType === 'Reshape' ? g.producer.get(r.inputs[0]) : undefined
  if (add?.opType !== 'Add') return undefined
  const bias = add.inputs.find((i) => g.initializers.has(i))
  const mm = g.producer.get(add.inputs.find((i) => i !== bias) ?? '')
  const w = mm?.opType === 'MatMul' ? weights(g, mm.inputs[1]) : undefined
  const b = bias ? weights(g, bias) : undefined
  if (!mm || !w?.floats || w.dims.length !== 2 || !b?.floats || b.floats.length !== w.dims[1]) return undefined
  return {x: mm.inputs[0], w: w.floats, b: b.floats, heads}
}

/** The module's direction, from the name PyTorch gave it in the export. */
const directionOf = (softmax: GraphNode): AttentionMatch['direction'] | undefined =>
  softmax.name.includes('image_to_token') ? 'image_to_token' : softmax.name.includes('token_to_image') ? 'token_to_image' : undefined

/** Before the softmax: scores = (q·kᵀ) / s over the keys (the last axis), with q and k projections. */
function matchScores(g: OpenGraph, softmax: GraphNode): {q: Projection; k: Projection; scale: number} | undefined {
  const div = g.producer.get(softmax.inputs[0])
  const s = div?.opType === 'Div' ? constantFloats(g, div.inputs[1]) : undefined
  const scores = div && g.producer.get(div.inputs[0])
  if (!isLastAxis(softmax, 4) || !s || s.length !== 1 || scores?.opType !== 'MatMul') return undefined
  const q = projection(g, scores.inputs[0], [0, 2, 1, 3])
  const k = projection(g, scores.inputs[1], [0, 2, 3, 1])
  return q && k && {q, k, scale: s[0]}
}

/** After the softmax: P·v, heads merged (Transpose, Reshape), then the out projection MatMul + Add. */
function matchOutput(g: OpenGraph, softmax: GraphNode) {
  const pv = onlyReader(g, softmax.outputs[0], 'MatMul')
  const v = pv && pv.inputs[0] === softmax.outputs[0] ? projection(g, pv.inputs[1], [0, 2, 1, 3]) : undefined
  const back = pv && onlyReader(g, pv.outputs[0], 'Transpose')
  const flat = back && permIs(back, [0, 2, 1, 3]) ? onlyReader(g, back.outputs[0], 'Reshape') : undefined
  const out = flat && onlyReader(g, flat.outputs[0], 'MatMul')
  const outW = out && weights(g, out.inputs[1])
  const last = out && onlyReader(g, out.outputs[0], 'Add')
  const outBias = last?.inputs.find((i) => i !== out!.outputs[0])
  if (!v || !out || !outW?.floats || !last || !outBias || !g.initializers.has(outBias)) return undefined
  return {v, outWeight: out.inputs[1], outW: outW.floats, outDims: outW.dims, outBias, last}
}

/** One cross-attention module around this softmax, when it has the exported shape. */
function matchAttention(g: OpenGraph, softmax: GraphNode): AttentionMatch | undefined {
  const direction = directionOf(softmax)
  const scores = direction && matchScores(g, softmax)
  const output = scores && matchOutput(g, softmax)
  if (!direction || !scores || !output) return undefined
  const {q, k, scale} = scores
  const [width, modelDim] = output.outDims
  const d = Math.round(scale * scale)
  const shaped = [q, k, output.v].every((p) => p.b.length === width && p.w.length === modelDim * width)
  if (Math.abs(d - scale * scale) > 1e-3 || width % d !== 0 || !shaped) return undefined
  const {v, outWeight, outW, outBias, last} = output
  const y = last.outputs[0]
  return {direction, q, k, v, probs: softmax.outputs[0], outWeight, outW, outBias, y, last, scale, heads: width / d, width, modelDim}
}

export function factorCrossAttention(model: Uint8Array, varies: (value: string) => boolean): {model: Uint8Array; factored: number} {
  const g = openGraph(model)
  if (!g) return {model, factored: 0}
  const replace = new Map<GraphNode, Uint8Array[]>()
  const tensors: Uint8Array[] = []
  for (const n of g.nodes) {
    const m = n.opType === 'Softmax' ? matchAttention(g, n) : undefined
    if (!m) continue
    const built =
      m.direction === 'image_to_token' ? imageToToken(m, varies(m.q.x)) : varies(m.k.x) && varies(m.v.x) ? tokenToImage(m) : undefined
    if (!built) continue
    replace.set(m.last, built.nodes)
    tensors.push(...built.tensors)
  }
  // what only the old products needed (the image side's projections, the reshapes' arithmetic) goes
  return replace.size === 0 ? {model, factored: 0} : {model: pruneGraph(rewriteGraph(g, replace, tensors)), factored: replace.size}
}

interface Built {
  nodes: Uint8Array[]
  tensors: Uint8Array[]
}

/** New nodes and tensors under one name prefix; `node` returns its output's name, for nesting. */
function subgraph(id: string) {
  const built: Built = {nodes: [], tensors: []}
  const node = (op: string, inputs: string[], output: string, attrs = {}) => {
    built.nodes.push(makeNode(op, inputs, [`${id}/${output}`], `${id}/${output}`, attrs))
    return `${id}/${output}`
  }
  return {built, node}
}

/** Queries are image tokens. Scores reassociated when the queries vary per prompt; the out projection always. */
function imageToToken(m: AttentionMatch, foldQueries: boolean): Built {
  const {heads: H, width, modelDim: C} = m
  const d = width / H
  const id = `${m.y}_factored`
  const {built, node} = subgraph(id)
  const {nodes, tensors} = built
  tensors.push(int64Tensor(`${id}/flat`, [3], [0, 0, -1]), int64Tensor(`${id}/byHead`, [3], [0, -1, C]))
  let probs: string // [B, Nq, H·Nk]
  if (foldQueries) {
    // Wq_h·K_hᵀ/s: [H,C,d]·[B,H,d,Nk] → [B,H,C,Nk] → [B,C,H·Nk]; the bias term bq_h·K_hᵀ/s → [B,1,H·Nk]
    tensors.push(
      floatTensor(`${id}/Wq`, [H, C, d], perHead(m.q.w, C, H, d, 'HCd', 1 / m.scale)),
      floatTensor(
        `${id}/bq`,
        [H, 1, d],
        m.q.b.map((v) => v / m.scale),
      ),
      int64Tensor(`${id}/split`, [4], [0, 0, H, -1]),
    )
    const wk = node('Transpose', [node('MatMul', [`${id}/Wq`, m.k.heads], 'WqK')], 'WqK_t', {perm: {ints: [0, 2, 1, 3]}})
    const bk = node('Transpose', [node('MatMul', [`${id}/bq`, m.k.heads], 'bqK')], 'bqK_t', {perm: {ints: [0, 2, 1, 3]}})
    const scores = node(
      'Add',
      [node('MatMul', [m.q.x, node('Reshape', [wk, `${id}/flat`], 'WqK_flat')], 'scores'), node('Reshape', [bk, `${id}/flat`], 'bqK_flat')],
      'scores_b',
    )
    probs = node(
      'Reshape',
      [node('Softmax', [node('Reshape', [scores, `${id}/split`], 'scores_h')], 'probs_h', {axis: {int: 3}}), `${id}/flat`],
      'probs',
    )
  } else {
    probs = node('Reshape', [node('Transpose', [m.probs], 'probs_t', {perm: {ints: [0, 2, 1, 3]}}), `${id}/flat`], 'probs')
  }
  // V_h·Wo_h: [B,H,Nk,d]·[H,d,C] → [B,H·Nk,C] (Wo [D,C] read as [H,d,C]: the same values); out = P·(V·Wo) + bo
  tensors.push(floatTensor(`${id}/Wo`, [H, d, C], m.outW))
  const vw = node('Reshape', [node('MatMul', [m.v.heads, `${id}/Wo`], 'VWo_h'), `${id}/byHead`], 'VWo')
  nodes.push(makeNode('Add', [node('MatMul', [probs, vw], 'out'), m.outBias], [m.y], `${id}/out_bias`))
  return built
}

/** Keys and values are image tokens that vary per prompt: both products reassociated. */
function tokenToImage(m: AttentionMatch): Built {
  const {heads: H, width, modelDim: C} = m
  const d = width / H
  const id = `${m.y}_factored`
  const {built, node} = subgraph(id)
  built.tensors.push(
    floatTensor(`${id}/WkT`, [H, d, C], perHead(m.k.w, C, H, d, 'HdC', 1 / m.scale)),
    floatTensor(`${id}/Wv`, [H, C, d], perHead(m.v.w, C, H, d, 'HCd')),
    floatTensor(`${id}/bv`, [H, 1, d], m.v.b),
    int64Tensor(`${id}/byHead`, [3], [0, -1, C]),
    int64Tensor(`${id}/heads`, [4], [0, H, -1, C]),
    int64Tensor(`${id}/flat`, [3], [0, 0, -1]),
  )
  // Q_h·Wk_hᵀ/s: [B,H,Nq,d]·[H,d,C] → [B,H·Nq,C]; scores = that · xkᵀ, formed as xk·thatᵀ (the small transposes)
  const a = node('Transpose', [node('Reshape', [node('MatMul', [m.q.heads, `${id}/WkT`], 'QWk_h'), `${id}/byHead`], 'QWk')], 'QWk_t', {
    perm: {ints: [0, 2, 1]},
  })
  const scores = node('Transpose', [node('MatMul', [m.k.x, a], 'scores_t')], 'scores', {perm: {ints: [0, 2, 1]}})
  const probs = node('Softmax', [scores], 'probs', {axis: {int: 2}}) // [B, H·Nq, Nk]
  // (P_h·xv)·Wv_h + bv_h → [B,H,Nq,d] → [B,Nq,H·d], then the module's own out projection
  const pv = node('Reshape', [node('MatMul', [probs, m.v.x], 'Pxv'), `${id}/heads`], 'Pxv_h')
  const o = node('Add', [node('MatMul', [pv, `${id}/Wv`], 'PxvWv'), `${id}/bv`], 'attn_h')
  const flat = node('Reshape', [node('Transpose', [o], 'attn_t', {perm: {ints: [0, 2, 1, 3]}}), `${id}/flat`], 'attn')
  built.nodes.push(makeNode('Add', [node('MatMul', [flat, m.outWeight], 'out'), m.outBias], [m.y], `${id}/out_bias`))
  return built
}
