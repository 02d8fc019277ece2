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
import {type Attribute, type GraphNode, bytesField, concat, fieldName, floatTensor, indexNodes, makeNode, nodeAttributes, parseFields, readNode, readTensor} from './onnx-graph.js'

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
  const modelFields = parseFields(model)
  const graphField = modelFields.find((f) => f.no === 7)
  if (!graphField) return {model, fused: 0}
  const graph = parseFields(graphField.body!)
  const nodes = graph.filter((f) => f.no === 1).map(readNode)
  const initializers = new Map(graph.filter((f) => f.no === 5).map((f) => [fieldName(f, 8), f.body!]))
  const {producer, users} = indexNodes(nodes)
  const outputs = new Set(graph.filter((f) => f.no === 12).map((f) => fieldName(f, 1)))
  /** the single user of a value, when it has that op and the value is not a graph output */
  const only = (value: string, op: string): GraphNode | undefined => {
    const u = users.get(value) ?? []
    return u.length === 1 && u[0].opType === op && !outputs.has(value) ? u[0] : undefined
  }
  const floats = (value: string): Float32Array | undefined => {
    const init = initializers.get(value)
    if (init) return readTensor(init).floats
    const n = producer.get(value)
    const t = n?.opType === 'Constant' ? nodeAttributes(n).get('value')?.t : undefined
    return t && readTensor(t).floats
  }
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
    if (dUsers.length !== 2 || !pow || !div || pow.inputs[0] !== d || div.inputs[0] !== d || floats(pow.inputs[1])?.[0] !== 2) return undefined
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

  const matches = new Map<GraphNode, Match>()
  const gone = new Set<GraphNode>()
  for (const n of nodes) {
    if (n.opType !== 'ReduceMean' || gone.has(n)) continue
    const m = match(n)
    if (!m) continue
    matches.set(n, m)
    for (const g of m.nodes) gone.add(g)
  }
  if (matches.size === 0) return {model, fused: 0}

  const rebuilt: Uint8Array[] = []
  const added: Uint8Array[] = []
  for (const f of graph) {
    const n = f.no === 1 ? nodes.find((g) => g.field === f) : undefined
    if (!n || !gone.has(n)) {
      rebuilt.push(f.raw)
      continue
    }
    const m = matches.get(n)
    if (!m) continue // a matched node other than the first: its replacement is already in place
    // the replacement goes where the first ReduceMean was: X exists there, Y's users all come later
    const id = `${m.y}_fused`
    rebuilt.push(
      bytesField(1, makeNode('Transpose', [m.x], [`${id}_nhwc`], `${id}/Transpose`, {perm: {ints: [0, 2, 3, 1]}})),
      bytesField(1, makeNode('LayerNormalization', [`${id}_nhwc`, `${id}_scale`, `${id}_bias`], [`${id}_norm`], `${id}/LayerNormalization`, {axis: {int: 3}, epsilon: {float: m.eps}})),
      bytesField(1, makeNode('Transpose', [`${id}_norm`], [m.y], `${id}/Transpose_back`, {perm: {ints: [0, 3, 1, 2]}})),
    )
    added.push(bytesField(5, floatTensor(`${id}_scale`, [m.w.length], m.w)), bytesField(5, floatTensor(`${id}_bias`, [m.b.length], m.b)))
  }
  const newGraph = bytesField(7, concat([...rebuilt, ...added]))
  return {model: concat(modelFields.map((f) => (f === graphField ? newGraph : f.raw))), fused: matches.size}
}
