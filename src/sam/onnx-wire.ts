/**
 * ONNX graph surgery at the protobuf wire level: derive a decoder graph from the shipped one (new
 * outputs, a graph cut in two, nodes replaced by a pattern rewrite) without a protobuf schema.
 * The wire format is in protobuf-wire.ts, the messages and their onnx.proto field numbers in
 * onnx-messages.ts; this file holds the graph edits. Only the fields an edit needs are decoded: every
 * other field (a node it keeps, a tensor, the model's metadata) is copied as its raw bytes, so a
 * derived graph is byte for byte its source where it was not edited.
 *
 * Example: deriveGraph(model, [{from: 'x', as: 'y'}]) keeps the nodes 'x' needs, adds the node
 * Identity(x) → y and declares y as the one graph output.
 */
import {type Field, bytesField, concat, fieldHeader, parseFields, stringField} from './protobuf-wire.js'
import {
  type GraphNode,
  DATA_TYPE,
  GRAPH,
  MODEL,
  NODE,
  TENSOR,
  VALUE_INFO,
  fieldName,
  nodeAttributes,
  readNode,
  readTensor,
  tensorValueInfo,
} from './onnx-messages.js'

// what the rewrites, graphs.ts and their tests use, from one place
export {type Field, bytesField, concat, parseFields, stringField, varintField, writeVarint} from './protobuf-wire.js'
export {
  type Attribute,
  type GraphNode,
  fieldName,
  floatTensor,
  int64Tensor,
  makeNode,
  nodeAttributes,
  readNode,
  readTensor,
} from './onnx-messages.js'

/** Who produces each value, and which nodes read it. */
export function indexNodes(nodes: readonly GraphNode[]): {producer: Map<string, GraphNode>; users: Map<string, GraphNode[]>} {
  const producer = new Map<string, GraphNode>()
  const users = new Map<string, GraphNode[]>()
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n)
    for (const i of n.inputs) {
      if (!i) continue
      const list = users.get(i)
      if (list) list.push(n)
      else users.set(i, [n])
    }
  }
  return {producer, users}
}

/** A model's graph, indexed for an edit. */
export interface OpenGraph {
  /** the model's fields and its graph's, as read */
  modelFields: Field[]
  graphFields: Field[]
  nodes: GraphNode[]
  /** the node each node field of `graphFields` holds */
  nodeOf: Map<Field, GraphNode>
  /** initializer bodies (TensorProto) by name */
  initializers: Map<string, Uint8Array>
  producer: Map<string, GraphNode>
  users: Map<string, GraphNode[]>
  outputs: Set<string>
}

export function openGraph(model: Uint8Array): OpenGraph | undefined {
  const modelFields = parseFields(model)
  const graphField = modelFields.find((f) => f.no === MODEL.graph)
  if (!graphField) return undefined
  const graph = parseFields(graphField.body!)
  const nodes = graph.filter((f) => f.no === GRAPH.node).map(readNode)
  return {
    modelFields,
    graphFields: graph,
    nodes,
    nodeOf: new Map(nodes.map((n) => [n.field, n])),
    initializers: new Map(graph.filter((f) => f.no === GRAPH.initializer).map((f) => [fieldName(f, TENSOR.name), f.body!])),
    ...indexNodes(nodes),
    outputs: new Set(graph.filter((f) => f.no === GRAPH.output).map((f) => fieldName(f, VALUE_INFO.name))),
  }
}

/** The model again, its graph made of these fields. */
function withGraph(g: OpenGraph, graphFields: Uint8Array[]): Uint8Array {
  // one copy of the (16 MB) model, not one per level of nesting
  const header = fieldHeader(
    MODEL.graph,
    graphFields.reduce((n, f) => n + f.length, 0),
  )
  return concat(g.modelFields.flatMap((f) => (f.no === MODEL.graph ? [header, ...graphFields] : [f.raw])))
}

/** Walk back from the wanted values (stopping at `cut` ones): the values and nodes they need. */
function liveNodes(
  producer: Map<string, GraphNode>,
  wanted: string[],
  cut = new Set<string>(),
): {needed: Set<string>; keep: Set<GraphNode>} {
  const needed = new Set<string>()
  const keep = new Set<GraphNode>()
  const stack = [...wanted]
  while (stack.length > 0) {
    const v = stack.pop()!
    if (needed.has(v)) continue
    needed.add(v)
    const n = cut.has(v) ? undefined : producer.get(v)
    if (n && !keep.has(n)) {
      keep.add(n)
      for (const i of n.inputs) if (i) stack.push(i)
    }
  }
  return {needed, keep}
}

function open(model: Uint8Array): OpenGraph {
  const g = openGraph(model)
  if (!g) throw new Error('not an ONNX model: no graph')
  return g
}

/** Drop the nodes and initializers that no graph output needs (what a rewrite left behind). */
export function pruneGraph(model: Uint8Array): Uint8Array {
  const g = open(model)
  const {needed, keep} = liveNodes(g.producer, [...g.outputs])
  const kept = g.graphFields.filter((f) =>
    f.no === GRAPH.node ? keep.has(g.nodeOf.get(f)!) : f.no === GRAPH.initializer ? needed.has(fieldName(f, TENSOR.name)) : true,
  )
  return withGraph(
    g,
    kept.map((f) => f.raw),
  )
}

export interface OutputSpec {
  /** existing value in the graph */
  from: string
  /** name of the new graph output */
  as: string
  /** symbolic or fixed dims; leave out to let onnxruntime infer the shape */
  dims?: (number | string)[]
}

/**
 * Rewrite a model: new graph outputs taken from inner values (renamed through
 * Identity nodes), nodes and initializers that no output needs dropped, unused
 * inputs dropped, and chosen inputs re-declared with new dims. `newInputs` are
 * inner float values that become graph inputs under their own names: what only
 * they needed is dropped, which is how a graph is cut in two.
 */
export function deriveGraph(
  model: Uint8Array,
  outputs: OutputSpec[],
  inputDims: Record<string, (number | string)[]> = {},
  newInputs: string[] = [],
): Uint8Array {
  const g = open(model)
  const {producer} = g
  for (const o of outputs) if (!producer.has(o.from)) throw new Error(`value ${o.from} not found in the graph`)
  for (const v of newInputs) if (!producer.has(v)) throw new Error(`value ${v} not found in the graph`)
  const cut = new Set(newInputs)
  const {needed, keep} = liveNodes(
    producer,
    outputs.map((o) => o.from),
    cut,
  )
  for (const n of keep) {
    const clash = n.outputs.find((o) => cut.has(o))
    if (clash) throw new Error(`value ${clash} cannot become an input: node ${n.name} is still needed for another output`)
  }

  const identity = (o: OutputSpec) =>
    bytesField(
      GRAPH.node,
      concat([
        stringField(NODE.input, o.from),
        stringField(NODE.output, o.as),
        stringField(NODE.name, `derived_${o.as}`),
        stringField(NODE.op_type, 'Identity'),
      ]),
    )
  const input = (name: string, dims?: (number | string)[]) => bytesField(GRAPH.input, tensorValueInfo(name, DATA_TYPE.FLOAT, dims))
  const rebuilt: Uint8Array[] = []
  for (const f of g.graphFields) {
    if (f.no === GRAPH.node) {
      if (keep.has(g.nodeOf.get(f)!)) rebuilt.push(f.raw)
    } else if (f.no === GRAPH.initializer || f.no === GRAPH.input) {
      const name = fieldName(f, f.no === GRAPH.initializer ? TENSOR.name : VALUE_INFO.name)
      if (!needed.has(name)) continue
      rebuilt.push(f.no === GRAPH.input && inputDims[name] ? input(name, inputDims[name]) : f.raw)
    } else if (f.no === GRAPH.output || f.no === GRAPH.value_info) {
      continue // old outputs and stale shape hints go; ORT infers shapes again
    } else rebuilt.push(f.raw)
  }
  rebuilt.push(...newInputs.filter((v) => needed.has(v)).map((v) => input(v)))
  for (const o of outputs) rebuilt.push(identity(o))
  for (const o of outputs) rebuilt.push(bytesField(GRAPH.output, tensorValueInfo(o.as, DATA_TYPE.FLOAT, o.dims)))
  return withGraph(g, rebuilt)
}

/* ---- helpers for pattern rewrites: match nodes, replace them in place ---- */

/** Whether a node's `axis` attribute names the last axis of a tensor of this rank (as rank − 1 or −1). */
export function isLastAxis(n: GraphNode, rank: number): boolean {
  const axis = nodeAttributes(n).get('axis')?.i
  return axis === rank - 1 || axis === -1
}

/** Whether a node is a Transpose with exactly this permutation. */
export const permIs = (n: GraphNode | undefined, perm: number[]): boolean =>
  n?.opType === 'Transpose' && nodeAttributes(n).get('perm')?.ints?.join() === perm.join()

/** A float value fixed in the graph: an initializer or a Constant node's output. */
export function constantFloats(g: OpenGraph, value: string): Float32Array | undefined {
  const init = g.initializers.get(value)
  if (init) return readTensor(init).floats
  const n = g.producer.get(value)
  const t = n?.opType === 'Constant' ? nodeAttributes(n).get('value')?.t : undefined
  return t && readTensor(t).floats
}

/**
 * The model with nodes replaced in place (each by zero or more NodeProtos: the place of a node
 * is where its replacement's inputs exist and its outputs' readers come later) and initializers
 * (TensorProtos) added.
 */
export function rewriteGraph(g: OpenGraph, replace: Map<GraphNode, Uint8Array[]>, tensors: Uint8Array[]): Uint8Array {
  const rebuilt = g.graphFields.flatMap((f) => {
    const n = f.no === GRAPH.node ? g.nodeOf.get(f) : undefined
    return n && replace.has(n) ? replace.get(n)!.map((node) => bytesField(GRAPH.node, node)) : [f.raw]
  })
  return withGraph(g, [...rebuilt, ...tensors.map((t) => bytesField(GRAPH.initializer, t))])
}

/** A copy of a node under another name, its inputs and outputs renamed; op type, attributes and domain kept as they are. */
export function renameNode(node: GraphNode, rename: (value: string) => string, name: string): Uint8Array {
  const fields = parseFields(node.field.body!).filter((f) => f.no > NODE.name)
  return concat([
    ...node.inputs.map((i) => stringField(NODE.input, i && rename(i))),
    ...node.outputs.map((o) => stringField(NODE.output, rename(o))),
    stringField(NODE.name, name),
    ...fields.map((f) => f.raw),
  ])
}
