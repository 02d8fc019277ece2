/**
 * Fuse the channel LayerNorm that PyTorch exports as nine elementwise ops
 * (SAM's LayerNorm2d: mean and variance over axis 1 of an NCHW tensor) into
 * Transpose → LayerNormalization → Transpose. onnxruntime's CPU ReduceMean
 * over the channel axis is slow (a strided reduction); its LayerNormalization
 * over the last axis is one pass. Same values to float rounding.
 *
 *   m = ReduceMean(X, axes=[1]);  d = X − m;  v = ReduceMean(d², axes=[1])
 *   Y = w · d / sqrt(v + ε) + b      (w, b initializers of C×1×1)
 */
import {
  type Attribute,
  type GraphNode,
  constantFloats,
  floatTensor,
  makeNode,
  nodeAttributes,
  openGraph,
  rewriteGraph,
} from '../onnx-wire.js'

interface Match {
  nodes: GraphNode[]
  x: string
  y: string
  eps: number
  w: Float32Array
  b: Float32Array
}

const isChannelMean = (a: Map<string, Attribute>) => a.get('axes')?.ints?.join() === '1' && (a.get('keepdims')?.i ?? 1) === 1

export function fuseChannelLayerNorms(model: Uint8Array): {model: Uint8Array; fused: number} {
  const g = openGraph(model)
  if (!g) return {model, fused: 0}
  const {nodes, initializers, users, outputs} = g
  /** the single user of a value, when it has that op and the value is not a graph output */
  const only = (value: string, op: string): GraphNode | undefined => {
    const u = users.get(value) ?? []
    return u.length === 1 && u[0].opType === op && !outputs.has(value) ? u[0] : undefined
  }
  const floats = (value: string) => constantFloats(g, value)
  const other = (n: GraphNode, known: string) => n.inputs.find((i) => i !== known) ?? ''

  const match = (r1: GraphNode): Match | undefined => {
    if (!isChannelMean(nodeAttributes(r1))) return undefined
    const [x] = r1.inputs
    const sub = only(r1.outputs[0], 'Sub')
    if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== r1.outputs[0]) return undefined
    const d = sub.outputs[0]
    const dUsers = users.get(d) ?? []
    const pow = dUsers.find((n) => n.opType === 'Pow')
    const div = dUsers.find((n) => n.opType === 'Div')
    if (dUsers.length !== 2 || !pow || !div || pow.inputs[0] !== d || div.inputs[0] !== d || floats(pow.inputs[1])?.[0] !== 2)
      return undefined
    const r2 = only(pow.outputs[0], 'ReduceMean')
    if (!r2 || !isChannelMean(nodeAttributes(r2))) return undefined
    const add = only(r2.outputs[0], 'Add')
    const eps = add && floats(other(add, r2.outputs[0]))
    const sqrt = add && only(add.outputs[0], 'Sqrt')
    if (!add || eps?.length !== 1 || !sqrt || only(sqrt.outputs[0], 'Div') !== div || div.inputs[1] !== sqrt.outputs[0]) return undefined
    const mul = only(div.outputs[0], 'Mul')
    const w = mul && initializers.has(other(mul, div.outputs[0])) ? floats(other(mul, div.outputs[0])) : undefined
    const bias = mul && only(mul.outputs[0], 'Add')
    const b = bias && initializers.has(other(bias, mul.outputs[0])) ? floats(other(bias, mul.outputs[0])) : undefined
    if (!mul || !w || !bias || !b || b.length !== w.length) return undefined
    return {nodes: [r1, sub, pow, r2, add, sqrt, div, mul, bias], x, y: bias.outputs[0], eps: eps[0], w, b}
  }

  const replace = new Map<GraphNode, Uint8Array[]>()
  const tensors: Uint8Array[] = []
  let fused = 0
  for (const n of nodes) {
    if (n.opType !== 'ReduceMean' || replace.has(n)) continue
    const m = match(n)
    if (!m) continue
    fused++
    // the replacement goes where the first ReduceMean was: X exists there, Y's users all come later
    const id = `${m.y}_fused`
    for (const gone of m.nodes) replace.set(gone, [])
    replace.set(n, [
      makeNode('Transpose', [m.x], [`${id}_nhwc`], `${id}/Transpose`, {perm: {ints: [0, 2, 3, 1]}}),
      makeNode('LayerNormalization', [`${id}_nhwc`, `${id}_scale`, `${id}_bias`], [`${id}_norm`], `${id}/LayerNormalization`, {
        axis: {int: 3},
        epsilon: {float: m.eps},
      }),
      makeNode('Transpose', [`${id}_norm`], [m.y], `${id}/Transpose_back`, {perm: {ints: [0, 3, 1, 2]}}),
    ])
    tensors.push(floatTensor(`${id}_scale`, [m.w.length], m.w), floatTensor(`${id}_bias`, [m.b.length], m.b))
  }
  return fused === 0 ? {model, fused: 0} : {model: rewriteGraph(g, replace, tensors), fused}
}
