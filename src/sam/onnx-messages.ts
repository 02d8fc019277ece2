/**
 * The ONNX messages getok reads and writes, on the protobuf wire (protobuf-wire.ts): nodes, their
 * attributes, tensors and value infos. Field numbers are onnx.proto's (github.com/onnx/onnx,
 * onnx/onnx.proto, proto2), named as there. Example: a NodeProto Relu reading x and writing y is
 * fields input (1) "x", output (2) "y", name (3), op_type (4) "Relu", one per length-delimited field.
 *
 * Why not a generated schema (the npm package onnx-proto, for protobufjs): docs/curation.md,
 * "The ONNX wire layer".
 */
import {
  type Field,
  bytesField,
  concat,
  float32Field,
  float32Of,
  parseFields,
  stringField,
  text,
  varintField,
  varints,
  WIRE_BYTES,
  WIRE_FIXED32,
} from './protobuf-wire.js'

/** onnx.proto ModelProto */
export const MODEL = {graph: 7, opset_import: 8} as const
/** onnx.proto OperatorSetIdProto */
export const OPSET_ID = {domain: 1, version: 2} as const
/** onnx.proto GraphProto */
export const GRAPH = {node: 1, initializer: 5, input: 11, output: 12, value_info: 13} as const
/** onnx.proto NodeProto */
export const NODE = {input: 1, output: 2, name: 3, op_type: 4, attribute: 5, domain: 7} as const
/** onnx.proto AttributeProto, and its AttributeType enum */
export const ATTRIBUTE = {name: 1, f: 2, i: 3, t: 5, ints: 8, type: 20} as const
export const ATTRIBUTE_TYPE = {FLOAT: 1, INT: 2, INTS: 7} as const
/** onnx.proto TensorProto, and its DataType enum */
export const TENSOR = {dims: 1, data_type: 2, float_data: 4, name: 8, raw_data: 9} as const
export const DATA_TYPE = {FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7} as const
/** onnx.proto ValueInfoProto; TypeProto; TypeProto.Tensor; TensorShapeProto; TensorShapeProto.Dimension */
export const VALUE_INFO = {name: 1, type: 2} as const
export const TYPE = {tensor_type: 1} as const
export const TYPE_TENSOR = {elem_type: 1, shape: 2} as const
export const SHAPE = {dim: 1} as const
export const DIMENSION = {dim_value: 1, dim_param: 2} as const

/** A NodeProto as read: the fields graph edits look at, and the field itself (its raw bytes are copied). */
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
    if (f.no === NODE.input) node.inputs.push(text(f.body))
    else if (f.no === NODE.output) node.outputs.push(text(f.body))
    else if (f.no === NODE.name) node.name = text(f.body)
    else if (f.no === NODE.op_type) node.opType = text(f.body)
  }
  return node
}

/** The string field `nameNo` of a message field (a tensor's or a value info's name). */
export function fieldName(field: Field, nameNo: number): string {
  return text(parseFields(field.body!).find((f) => f.no === nameNo)?.body)
}

export interface Attribute {
  f?: number
  i?: number
  ints?: number[]
  t?: Uint8Array
}

/** A node's attributes by name (the FLOAT, INT, INTS and TENSOR ones). */
export function nodeAttributes(node: GraphNode): Map<string, Attribute> {
  const out = new Map<string, Attribute>()
  for (const a of parseFields(node.field.body!).filter((f) => f.no === NODE.attribute)) {
    const attr: Attribute = {}
    let name = ''
    for (const f of parseFields(a.body!)) {
      if (f.no === ATTRIBUTE.name) name = text(f.body)
      else if (f.no === ATTRIBUTE.f && f.wire === WIRE_FIXED32) attr.f = float32Of(f)
      else if (f.no === ATTRIBUTE.i) attr.i = f.value
      else if (f.no === ATTRIBUTE.t) attr.t = f.body
      else if (f.no === ATTRIBUTE.ints) (attr.ints ??= []).push(...varints(f))
    }
    out.set(name, attr)
  }
  return out
}

export type AttributeValue = {int: number} | {ints: number[]} | {float: number}

/** A NodeProto with INT, INTS or FLOAT attributes (non-negative ints only), in the default domain unless one is named. */
export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: Record<string, AttributeValue> = {},
  domain?: string,
): Uint8Array {
  const attrs = Object.entries(attributes).map(([key, a]) => {
    let value: Uint8Array
    if ('int' in a) value = concat([varintField(ATTRIBUTE.i, a.int), varintField(ATTRIBUTE.type, ATTRIBUTE_TYPE.INT)])
    else if ('ints' in a)
      value = concat([...a.ints.map((v) => varintField(ATTRIBUTE.ints, v)), varintField(ATTRIBUTE.type, ATTRIBUTE_TYPE.INTS)])
    else value = concat([float32Field(ATTRIBUTE.f, a.float), varintField(ATTRIBUTE.type, ATTRIBUTE_TYPE.FLOAT)])
    return bytesField(NODE.attribute, concat([stringField(ATTRIBUTE.name, key), value]))
  })
  return concat([
    ...inputs.map((i) => stringField(NODE.input, i)),
    ...outputs.map((o) => stringField(NODE.output, o)),
    stringField(NODE.name, name),
    stringField(NODE.op_type, opType),
    ...attrs,
    ...(domain === undefined ? [] : [stringField(NODE.domain, domain)]),
  ])
}

const float32At = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset + at, 4).getFloat32(0, true)
/** ONNX stores numbers little-endian; on such a machine (every platform onnxruntime-node ships for) bytes are copied whole */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** A TensorProto's dims and, for float32, its values (raw_data or packed float_data). */
export function readTensor(tensor: Uint8Array): {dims: number[]; floats?: Float32Array} {
  const fields = parseFields(tensor)
  const dims = fields.filter((g) => g.no === TENSOR.dims).flatMap(varints)
  if ((fields.find((f) => f.no === TENSOR.data_type)?.value ?? 0) !== DATA_TYPE.FLOAT) return {dims}
  const raw = fields.find((f) => f.no === TENSOR.raw_data)?.body
  const packed = fields.filter((f) => f.no === TENSOR.float_data)
  const bytes = raw ?? concat(packed.map((f) => (f.wire === WIRE_BYTES ? f.body! : f.raw.subarray(f.raw.length - 4))))
  const floats = LITTLE_ENDIAN
    ? new Float32Array(bytes.slice().buffer)
    : Float32Array.from({length: bytes.length / 4}, (_, k) => float32At(bytes, 4 * k))
  return {dims, floats}
}

/** A TensorProto of this data type, its values as little-endian raw_data. */
export function rawTensor(name: string, dims: number[], dataType: number, data: Uint8Array): Uint8Array {
  return concat([
    ...dims.map((d) => varintField(TENSOR.dims, d)),
    varintField(TENSOR.data_type, dataType),
    stringField(TENSOR.name, name),
    bytesField(TENSOR.raw_data, data),
  ])
}

/** A float32 TensorProto. */
export function floatTensor(name: string, dims: number[], values: Float32Array): Uint8Array {
  const data = new Uint8Array(values.length * 4)
  if (LITTLE_ENDIAN) data.set(new Uint8Array(values.buffer, values.byteOffset, data.length))
  else values.forEach((v, k) => new DataView(data.buffer).setFloat32(4 * k, v, true))
  return rawTensor(name, dims, DATA_TYPE.FLOAT, data)
}

/** An int64 TensorProto (shapes for Reshape). */
export function int64Tensor(name: string, dims: number[], values: number[]): Uint8Array {
  const data = new Uint8Array(values.length * 8)
  values.forEach((v, k) => new DataView(data.buffer).setBigInt64(8 * k, BigInt(v), true))
  return rawTensor(name, dims, DATA_TYPE.INT64, data)
}

/** A ValueInfoProto of a tensor: name, element type and (when given) symbolic or fixed dims. */
export function tensorValueInfo(name: string, elemType: number, dims?: (number | string)[]): Uint8Array {
  const dimFields = (dims ?? []).map((d) =>
    bytesField(SHAPE.dim, typeof d === 'number' ? varintField(DIMENSION.dim_value, d) : stringField(DIMENSION.dim_param, d)),
  )
  const shape = dims ? bytesField(TYPE_TENSOR.shape, concat(dimFields)) : new Uint8Array()
  const tensorType = bytesField(TYPE.tensor_type, concat([varintField(TYPE_TENSOR.elem_type, elemType), shape]))
  return concat([stringField(VALUE_INFO.name, name), bytesField(VALUE_INFO.type, tensorType)])
}
