import {describe, expect, it} from 'vitest'
import {
  type GraphNode,
  bytesField,
  concat,
  deriveGraph,
  isLastAxis,
  makeNode,
  parseFields,
  readNode,
  stringField,
  varintField,
} from '../../src/sam/onnx-wire.js'
import {ProtobufWireError} from '../../src/sam/protobuf-wire.js'

/** Protobuf's varint of a 64-bit two's complement integer, written by the book (7 bits a byte, low first). */
function int64Varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value)
  const out: number[] = []
  do {
    const low = Number(v & 0x7fn)
    v >>= 7n
    out.push(v > 0n ? low | 0x80 : low)
  } while (v > 0n)
  return out
}

/** A NodeProto with one INT attribute `axis` of this value (AttributeProto: name 1, i 3, type 20). */
function nodeWithAxis(axis: bigint): GraphNode {
  const attribute = concat([stringField(1, 'axis'), Uint8Array.from([3 << 3, ...int64Varint(axis)]), varintField(20, 2)])
  const body = concat([stringField(1, 'x'), stringField(2, 'y'), stringField(3, 'n'), stringField(4, 'Softmax'), bytesField(5, attribute)])
  return readNode(parseFields(bytesField(1, body))[0])
}

describe('onnx-graph varints', () => {
  it('reads negative int64 values exactly (ten-byte varints), and large positive ones', () => {
    for (const v of [-1n, -2n, -3n, -(2n ** 40n), 0n, 1n, 127n, 128n, 2n ** 40n, 2n ** 52n]) {
      const [field] = parseFields(Uint8Array.from([3 << 3, ...int64Varint(v)]))
      expect(field.value).toBe(Number(v))
    }
    expect(int64Varint(-1n)).toHaveLength(10)
  })

  it('bytes that are no protobuf message throw a ProtobufWireError (a caller names the file): a bad wire type, a cut field', () => {
    expect(() => parseFields(new TextEncoder().encode('{"a": 1}'))).toThrow(
      new ProtobufWireError('unsupported protobuf wire type 3 at byte 0'),
    )
    // a bytes field of 9 bytes with 2 left: it used to be read short, as if the file were whole
    expect(() => parseFields(Uint8Array.from([(7 << 3) | 2, 9, 1, 2]))).toThrow(/field 7 at byte 0 runs past the end \(9 bytes\)/)
    // a varint whose last byte says more follow: it used to read past the end forever
    expect(() => parseFields(Uint8Array.from([3 << 3, 0x96, 0x81]))).toThrow(/varint cut off by the end of the message at byte 1/)
  })

  it('isLastAxis takes rank − 1 or −1, and no other negative axis', () => {
    expect(isLastAxis(nodeWithAxis(-1n), 4)).toBe(true)
    expect(isLastAxis(nodeWithAxis(3n), 4)).toBe(true)
    expect(isLastAxis(nodeWithAxis(-2n), 4)).toBe(false)
    expect(isLastAxis(nodeWithAxis(2n), 4)).toBe(false)
    expect(isLastAxis(nodeWithAxis(2n), 3)).toBe(true)
  })
})

describe('deriveGraph keeps what it does not edit', () => {
  // Fields newer than ONNX 1.10's onnx.proto, which a generated schema of that version (onnx-proto) drops on
  // decode: NodeProto.metadata_props = 9 and GraphProto.metadata_props = 16 (StringStringEntryProto: key 1, value 2).
  const entry = (key: string, value: string) => concat([stringField(1, key), stringField(2, value)])
  const nodeMeta = bytesField(9, entry('source', 'exporter'))
  const graphMeta = bytesField(16, entry('k', 'v'))
  const relu = concat([makeNode('Relu', ['x'], ['y'], 'relu'), nodeMeta])
  const neg = makeNode('Neg', ['x'], ['z'], 'neg')
  const valueInfo = (name: string) => concat([stringField(1, name), bytesField(2, bytesField(1, varintField(1, 1)))])
  const graph = concat([bytesField(1, relu), bytesField(1, neg), stringField(2, 'g'), bytesField(11, valueInfo('x')), graphMeta])
  const model = concat([varintField(1, 8), bytesField(7, graph), bytesField(8, varintField(2, 17))])

  it('copies a kept node and unknown graph and model fields byte for byte, and drops the node no output needs', () => {
    const derived = deriveGraph(model, [{from: 'y', as: 'out'}])
    const fields = parseFields(derived)
    expect(fields.map((f) => f.no)).toEqual([1, 7, 8])
    const g = parseFields(fields[1].body!)
    const nodes = g.filter((f) => f.no === 1)
    expect(nodes.map((f) => readNode(f).opType)).toEqual(['Relu', 'Identity'])
    expect(Buffer.from(nodes[0].body!).equals(Buffer.from(relu))).toBe(true)
    expect(g.filter((f) => f.no === 16).map((f) => Buffer.from(f.raw).toString('hex'))).toEqual([Buffer.from(graphMeta).toString('hex')])
    expect(g.filter((f) => f.no === 12)).toHaveLength(1)
  })
})
