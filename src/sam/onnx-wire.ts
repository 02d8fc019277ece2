/**
 * Minimal ONNX graph surgery at the protobuf wire level, so we can derive a
 * decoder graph from the shipped one without a protobuf schema dependency.
 *
 * A protobuf message is a sequence of fields `tag (varint) + payload`, where
 * tag = field_number << 3 | wire_type (0 varint, 1 fixed64, 2 bytes, 5 fixed32).
 * Repeated and unknown fields survive untouched because we copy their raw bytes.
 * Only the fields we edit are decoded:
 *   ModelProto.graph = 7
 *   GraphProto: node = 1, initializer = 5, input = 11, output = 12, value_info = 13
 *   NodeProto: input = 1, output = 2, name = 3, op_type = 4
 *   ValueInfoProto: name = 1, type = 2;  TypeProto.tensor_type = 1 { elem_type = 1, shape = 2 { dim = 1 { dim_value = 1, dim_param = 2 } } }
 *   TensorProto.name = 8
 */

export interface Field {
  no: number
  wire: number
  /** the whole field (tag + payload) as it sits in the message */
  raw: Uint8Array
  /** payload for wire type 2; the value for varints */
  body?: Uint8Array
  value?: number
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  const start = pos
  let value = 0
  let scale = 1
  for (;;) {
    const b = buf[pos++]
    value += (b & 0x7f) * scale
    if (b < 0x80) break
    scale *= 128
  }
  // a negative int64 (an axis of -1, a Reshape's -1) takes ten bytes: read it exactly, as two's
  // complement, where a float sum would round -1 and -2 alike to 2⁶⁴
  if (pos - start === 10) {
    let big = 0n
    for (let k = pos - 1; k >= start; k--) big = (big << 7n) | BigInt(buf[k] & 0x7f)
    value = Number(BigInt.asIntN(64, big))
  }
  return [value, pos]
}

export function writeVarint(value: number): number[] {
  const out: number[] = []
  while (value >= 0x80) {
    out.push((value % 128) | 0x80)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

export function parseFields(buf: Uint8Array): Field[] {
  const fields: Field[] = []
  let pos = 0
  while (pos < buf.length) {
    const start = pos
    const [tag, afterTag] = readVarint(buf, pos)
    pos = afterTag
    const no = Math.floor(tag / 8)
    const wire = tag & 7
    const field: Field = {no, wire, raw: buf}
    if (wire === 0) {
      const [v, next] = readVarint(buf, pos)
      field.value = v
      pos = next
    } else if (wire === 1) pos += 8
    else if (wire === 5) pos += 4
    else if (wire === 2) {
      const [len, next] = readVarint(buf, pos)
      field.body = buf.subarray(next, next + len)
      pos = next + len
    } else throw new Error(`unsupported protobuf wire type ${wire} at byte ${start}`)
    field.raw = buf.subarray(start, pos)
    fields.push(field)
  }
  return fields
}

export function bytesField(no: number, body: Uint8Array): Uint8Array {
  return concat([fieldHeader(no, body.length), body])
}

/** The tag and length of a length-delimited field whose payload follows. */
function fieldHeader(no: number, length: number): Uint8Array {
  return Uint8Array.from([...writeVarint(no * 8 + 2), ...writeVarint(length)])
}

export function stringField(no: number, text: string): Uint8Array {
  return bytesField(no, new TextEncoder().encode(text))
}

export function varintField(no: number, value: number): Uint8Array {
  return Uint8Array.from([...writeVarint(no * 8), ...writeVarint(value)])
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : '')

export interface GraphNode {
  inputs: string[]
  outputs: string[]
  name: string
  opType: string
  field: Field
}

export function readNode(field: Field): GraphNode {
  const node: GraphNode = {inputs: [], outputs: [], name: '', opType: '', field}
  for (const f of parseFields(field.body!)) {
    if (f.no === 1) node.inputs.push(text(f.body))
    else if (f.no === 2) node.outputs.push(text(f.body))
    else if (f.no === 3) node.name = text(f.body)
    else if (f.no === 4) node.opType = text(f.body)
  }
  return node
}

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

export function fieldName(field: Field, nameNo: number): string {
  return text(parseFields(field.body!).find((f) => f.no === nameNo)?.body)
}

export interface OutputSpec {
  /** existing value in the graph */
  from: string
  /** name of the new graph output */
  as: string
  /** symbolic or fixed dims; leave out to let onnxruntime infer the shape */
  dims?: (number | string)[]
}

function tensorValueInfo(name: string, elemType: number, dims?: (number | string)[]): Uint8Array {
  const dimFields = (dims ?? []).map((d) => bytesField(1, typeof d === 'number' ? varintField(1, d) : stringField(2, d)))
  const shape = dims ? bytesField(2, concat(dimFields)) : new Uint8Array()
  const tensorType = bytesField(1, concat([varintField(1, elemType), shape]))
  return concat([stringField(1, name), bytesField(2, tensorType)])
}

const FLOAT = 1
const INT64 = 7

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

/** Drop the nodes and initializers that no graph output needs (what a rewrite left behind). */
export function pruneGraph(model: Uint8Array): Uint8Array {
  const g = openGraph(model)
  if (!g) throw new Error('not an ONNX model: no graph')
  const {needed, keep} = liveNodes(g.producer, [...g.outputs])
  const kept = g.graphFields.filter((f) => (f.no === 1 ? keep.has(g.nodeOf.get(f)!) : f.no === 5 ? needed.has(fieldName(f, 8)) : true))
  return withGraph(
    g,
    kept.map((f) => f.raw),
  )
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
  const g = openGraph(model)
  if (!g) throw new Error('not an ONNX model: no graph')
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
    bytesField(1, concat([stringField(1, o.from), stringField(2, o.as), stringField(3, `derived_${o.as}`), stringField(4, 'Identity')]))
  const rebuilt: Uint8Array[] = []
  const declared = newInputs.filter((v) => needed.has(v)).map((v) => bytesField(11, tensorValueInfo(v, FLOAT)))
  for (const f of g.graphFields) {
    if (f.no === 1) {
      if (keep.has(g.nodeOf.get(f)!)) rebuilt.push(f.raw)
    } else if (f.no === 5 || f.no === 11) {
      const name = fieldName(f, f.no === 5 ? 8 : 1)
      if (!needed.has(name)) continue
      rebuilt.push(f.no === 11 && inputDims[name] ? bytesField(11, tensorValueInfo(name, FLOAT, inputDims[name])) : f.raw)
    } else if (f.no === 12 || f.no === 13) {
      continue // old outputs and stale shape hints go; ORT infers shapes again
    } else rebuilt.push(f.raw)
  }
  rebuilt.push(...declared)
  for (const o of outputs) rebuilt.push(identity(o))
  for (const o of outputs) rebuilt.push(bytesField(12, tensorValueInfo(o.as, FLOAT, o.dims)))
  return withGraph(g, rebuilt)
}

/* ---- node attributes and small tensors, for pattern rewrites ---- */

export interface Attribute {
  f?: number
  i?: number
  ints?: number[]
  t?: Uint8Array
}

/** A repeated int64 field's values: packed (one length-delimited field) or one varint per field. */
function varints(f: Field): number[] {
  if (f.wire === 0) return [f.value!]
  const out: number[] = []
  for (let pos = 0; pos < f.body!.length;) {
    const [v, next] = readVarint(f.body!, pos)
    out.push(v)
    pos = next
  }
  return out
}

const float32At = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset + at, 4).getFloat32(0, true)
/** ONNX stores floats little-endian; on such a machine (every platform onnxruntime-node ships for) bytes are copied whole */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** A node's attributes by name (NodeProto.attribute = 5; AttributeProto: name 1, f 2, i 3, t 5, ints 8). */
export function nodeAttributes(node: GraphNode): Map<string, Attribute> {
  const out = new Map<string, Attribute>()
  for (const a of parseFields(node.field.body!).filter((f) => f.no === 5)) {
    const attr: Attribute = {}
    let name = ''
    for (const f of parseFields(a.body!)) {
      if (f.no === 1) name = text(f.body)
      else if (f.no === 2 && f.wire === 5) attr.f = float32At(f.raw, f.raw.length - 4)
      else if (f.no === 3) attr.i = f.value
      else if (f.no === 5) attr.t = f.body
      else if (f.no === 8) (attr.ints ??= []).push(...varints(f))
    }
    out.set(name, attr)
  }
  return out
}

/** Whether a node's `axis` attribute names the last axis of a tensor of this rank (as rank − 1 or −1). */
export function isLastAxis(n: GraphNode, rank: number): boolean {
  const axis = nodeAttributes(n).get('axis')?.i
  return axis === rank - 1 || axis === -1
}

/** Whether a node is a Transpose with exactly this permutation. */
export const permIs = (n: GraphNode | undefined, perm: number[]): boolean =>
  n?.opType === 'Transpose' && nodeAttributes(n).get('perm')?.ints?.join() === perm.join()

/** TensorProto (dims 1, data_type 2, float_data 4, name 8, raw_data 9): its dims and, for float32, its values. */
export function readTensor(tensor: Uint8Array): {dims: number[]; floats?: Float32Array} {
  const fields = parseFields(tensor)
  const dims = fields.filter((g) => g.no === 1).flatMap(varints)
  if ((fields.find((f) => f.no === 2)?.value ?? 0) !== FLOAT) return {dims}
  const raw = fields.find((f) => f.no === 9)?.body
  const packed = fields.filter((f) => f.no === 4)
  const bytes = raw ?? concat(packed.map((f) => (f.wire === 2 ? f.body! : f.raw.subarray(f.raw.length - 4))))
  const floats = LITTLE_ENDIAN
    ? new Float32Array(bytes.slice().buffer)
    : Float32Array.from({length: bytes.length / 4}, (_, k) => float32At(bytes, 4 * k))
  return {dims, floats}
}

/** A float32 TensorProto. */
export function floatTensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  const data = new Uint8Array(values.length * 4)
  if (LITTLE_ENDIAN) data.set(new Uint8Array(values.buffer, values.byteOffset, data.length))
  else values.forEach((v, k) => new DataView(data.buffer).setFloat32(4 * k, v, true))
  return concat([...dims.map((d) => varintField(1, d)), varintField(2, FLOAT), stringField(8, name), bytesField(9, data)])
}

/** An int64 TensorProto (shapes for Reshape). */
export function int64Tensor(name: string, dims: number[], values: number[]): Uint8Array {
  const data = new Uint8Array(values.length * 8)
  values.forEach((v, k) => new DataView(data.buffer).setBigInt64(8 * k, BigInt(v), true))
  return concat([...dims.map((d) => varintField(1, d)), varintField(2, INT64), stringField(8, name), bytesField(9, data)])
}

/* ---- pattern rewrites: open a graph, replace nodes in place ---- */

/** A model's graph, indexed for a pattern rewrite. */
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
  const graphField = modelFields.find((f) => f.no === 7)
  if (!graphField) return undefined
  const graph = parseFields(graphField.body!)
  const nodes = graph.filter((f) => f.no === 1).map(readNode)
  return {
    modelFields,
    graphFields: graph,
    nodes,
    nodeOf: new Map(nodes.map((n) => [n.field, n])),
    initializers: new Map(graph.filter((f) => f.no === 5).map((f) => [fieldName(f, 8), f.body!])),
    ...indexNodes(nodes),
    outputs: new Set(graph.filter((f) => f.no === 12).map((f) => fieldName(f, 1))),
  }
}

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
    const n = f.no === 1 ? g.nodeOf.get(f) : undefined
    return n && replace.has(n) ? replace.get(n)!.map((node) => bytesField(1, node)) : [f.raw]
  })
  return withGraph(g, [...rebuilt, ...tensors.map((t) => bytesField(5, t))])
}

/** The model again, its graph made of these fields. */
function withGraph(g: OpenGraph, graphFields: Uint8Array[]): Uint8Array {
  // one copy of the (16 MB) model, not one per level of nesting
  const header = fieldHeader(
    7,
    graphFields.reduce((n, f) => n + f.length, 0),
  )
  return concat(g.modelFields.flatMap((f) => (f.no === 7 ? [header, ...graphFields] : [f.raw])))
}

/** A copy of a node under another name, its inputs and outputs renamed; op type, attributes and domain kept as they are. */
export function renameNode(node: GraphNode, rename: (value: string) => string, name: string): Uint8Array {
  const fields = parseFields(node.field.body!).filter((f) => f.no > 3)
  return concat([
    ...node.inputs.map((i) => stringField(1, i && rename(i))),
    ...node.outputs.map((o) => stringField(2, rename(o))),
    stringField(3, name),
    ...fields.map((f) => f.raw),
  ])
}

/** A NodeProto with INT, INTS or FLOAT attributes (non-negative ints only). */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, {int: number} | {ints: number[]} | {float: number}> = {},
): Uint8Array {
  const attrs = Object.entries(attributes).map(([key, a]) => {
    let value: Uint8Array
    if ('int' in a) value = concat([varintField(3, a.int), varintField(20, 2)])
    else if ('ints' in a) value = concat([...a.ints.map((v) => varintField(8, v)), varintField(20, 7)])
    else {
      const f = new Uint8Array(5)
      f[0] = (2 << 3) | 5
      new DataView(f.buffer).setFloat32(1, a.float, true)
      value = concat([f, varintField(20, 1)])
    }
    return bytesField(5, concat([stringField(1, key), value]))
  })
  return concat([
    ...inputs.map((i) => stringField(1, i)),
    ...outputs.map((o) => stringField(2, o)),
    stringField(3, name),
    stringField(4, opType),
    ...attrs,
  ])
}
