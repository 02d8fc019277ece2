import {describe, expect, it} from 'vitest'
import {type GraphNode, bytesField, concat, isLastAxis, parseFields, readNode, stringField, varintField} from '../../src/sam/onnx-wire.js'

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

  it('isLastAxis takes rank − 1 or −1, and no other negative axis', () => {
    expect(isLastAxis(nodeWithAxis(-1n), 4)).toBe(true)
    expect(isLastAxis(nodeWithAxis(3n), 4)).toBe(true)
    expect(isLastAxis(nodeWithAxis(-2n), 4)).toBe(false)
    expect(isLastAxis(nodeWithAxis(2n), 4)).toBe(false)
    expect(isLastAxis(nodeWithAxis(2n), 3)).toBe(true)
  })
})
