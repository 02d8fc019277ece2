/**
 * Dynamic int8 quantization of a decoder graph's matrix products with constant weights, for the CPU.
 * Each MatMul whose second input is a 2-D float initializer B [K, N] (and each Gemm with default
 * attributes, B [K, N] and a bias [N]) becomes onnxruntime's com.microsoft DynamicQuantizeMatMul:
 *
 *   B ≈ s ⊙ Q, Q int8 in [−127, 127], one scale a column: s_j = max_k |B[k, j]| / 127 (symmetric, zero point 0)
 *   Y = A · B (+ bias), A quantized to uint8 at run time (its own scale and zero point, per tensor)
 *
 * Example: B = [[0.5, −2], [0.25, 1]] gives s = [0.5/127, 2/127] and Q = [[127, −127], [64, 64]].
 * Products with a constant first input, or a weight of another rank, stay float. The values change
 * (to within the quantization steps), so unlike the other rewrites this one is an option, measured in
 * docs/benchmarks.md ("int8 decoder").
 */
import {DATA_TYPE, MODEL, NODE, OPSET_ID, rawTensor} from '../onnx-messages.js'
import {
  type GraphNode,
  type OpenGraph,
  bytesField,
  concat,
  floatTensor,
  makeNode,
  openGraph,
  parseFields,
  pruneGraph,
  readTensor,
  rewriteGraph,
  stringField,
  varintField,
} from '../onnx-wire.js'

const MS_DOMAIN = 'com.microsoft'

/** A weight quantized per column: int8 values, row-major [K, N], and one scale per column. */
export interface QuantizedWeight {
  q: Int8Array
  scale: Float32Array
}

export function quantizeColumns(w: Float32Array, rows: number, cols: number): QuantizedWeight {
  const scale = new Float32Array(cols)
  for (let k = 0; k < rows; k++) for (let j = 0; j < cols; j++) scale[j] = Math.max(scale[j], Math.abs(w[k * cols + j]))
  for (let j = 0; j < cols; j++) scale[j] = scale[j] > 0 ? scale[j] / 127 : 1
  const q = new Int8Array(rows * cols)
  for (let k = 0; k < rows; k++)
    for (let j = 0; j < cols; j++) q[k * cols + j] = Math.max(-127, Math.min(127, Math.round(w[k * cols + j] / scale[j])))
  return {q, scale}
}

interface Product {
  node: GraphNode
  a: string
  w: {dims: number[]; floats: Float32Array}
  bias?: string
}

/** Whether a node has no attributes (NodeProto.attribute = 5), i.e. Gemm's defaults: no transposes, alpha = beta = 1. */
const noAttributes = (n: GraphNode) => !parseFields(n.field.body!).some((f) => f.no === NODE.attribute)

/** A product worth quantizing: constant 2-D float weight as the second input. */
function product(g: OpenGraph, n: GraphNode): Product | undefined {
  const isMatMul = n.opType === 'MatMul' && n.inputs.length === 2
  const isGemm = n.opType === 'Gemm' && n.inputs.length === 3 && noAttributes(n)
  const init = (isMatMul || isGemm) && !g.initializers.has(n.inputs[0]) ? g.initializers.get(n.inputs[1]) : undefined
  const w = init && readTensor(init)
  if (!w?.floats || w.dims.length !== 2) return undefined
  if (!isGemm) return {node: n, a: n.inputs[0], w: {dims: w.dims, floats: w.floats}}
  const bias = g.initializers.get(n.inputs[2])
  const b = bias && readTensor(bias)
  return b?.floats && b.floats.length === w.dims[1]
    ? {node: n, a: n.inputs[0], w: {dims: w.dims, floats: w.floats}, bias: n.inputs[2]}
    : undefined
}

/** The model with com.microsoft in its opset imports (ModelProto.opset_import: OperatorSetIdProto domain, version). */
function withMicrosoftOpset(model: Uint8Array): Uint8Array {
  const has = parseFields(model).some(
    (f) =>
      f.no === MODEL.opset_import &&
      parseFields(f.body!).some((o) => o.no === OPSET_ID.domain && new TextDecoder().decode(o.body) === MS_DOMAIN),
  )
  if (has) return model
  return concat([
    model,
    bytesField(MODEL.opset_import, concat([stringField(OPSET_ID.domain, MS_DOMAIN), varintField(OPSET_ID.version, 1)])),
  ])
}

/** Replace the float products with constant weights by int8 ones; `quantized` counts them. */
export function quantizeInt8(model: Uint8Array): {model: Uint8Array; quantized: number} {
  const g = openGraph(model)
  if (!g) return {model, quantized: 0}
  const replace = new Map<GraphNode, Uint8Array[]>()
  const tensors: Uint8Array[] = []
  for (const n of g.nodes) {
    const p = product(g, n)
    if (!p) continue
    const [rows, cols] = p.w.dims
    const {q, scale} = quantizeColumns(p.w.floats, rows, cols)
    const id = `${n.outputs[0]}_int8`
    tensors.push(rawTensor(`${id}/B`, [rows, cols], DATA_TYPE.INT8, new Uint8Array(q.buffer)), floatTensor(`${id}/scale`, [cols], scale))
    // inputs: A, B, b_scale, b_zero_point (absent: 0), bias
    const inputs = [p.a, `${id}/B`, `${id}/scale`, ...(p.bias ? ['', p.bias] : [])]
    replace.set(n, [makeNode('DynamicQuantizeMatMul', inputs, n.outputs, `${id}/DynamicQuantizeMatMul`, {}, MS_DOMAIN)])
  }
  if (replace.size === 0) return {model, quantized: 0}
  return {model: withMicrosoftOpset(pruneGraph(rewriteGraph(g, replace, tensors))), quantized: replace.size}
}
