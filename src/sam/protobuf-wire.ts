/**
 * The protobuf wire format, as far as ONNX models need it: read a message into its fields, write fields.
 *
 * A message is a sequence of fields `tag (varint) + payload`, where tag = field_number << 3 | wire_type
 * (0 varint, 1 fixed64, 2 length-delimited bytes, 5 fixed32). Varints hold 7 bits a byte, low bits first,
 * the high bit set on every byte but the last. Example: a NodeProto whose op_type (field 4) is "Relu" is
 * the bytes 22 04 52 65 6c 75: tag 0x22 = 4 << 3 | 2, length 4, then the UTF-8 text.
 *
 * Fields are kept with their raw bytes, so what an edit does not touch (repeated, unknown or newer
 * fields alike) is copied as it was: a derived graph differs from its source only where it was edited.
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

/** Bytes that are not a protobuf message (e.g. a file that is not an ONNX model): callers name the file. */
export class ProtobufWireError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtobufWireError'
  }
}

export const WIRE_VARINT = 0
export const WIRE_FIXED64 = 1
export const WIRE_BYTES = 2
export const WIRE_FIXED32 = 5

export function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  const start = pos
  let value = 0
  let scale = 1
  for (;;) {
    if (pos >= buf.length) throw new ProtobufWireError(`varint cut off by the end of the message at byte ${start}`)
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

/** A non-negative integer as a varint (negative int64 values are not written by getok). */
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
    if (wire === WIRE_VARINT) {
      const [v, next] = readVarint(buf, pos)
      field.value = v
      pos = next
    } else if (wire === WIRE_FIXED64) pos += 8
    else if (wire === WIRE_FIXED32) pos += 4
    else if (wire === WIRE_BYTES) {
      const [len, next] = readVarint(buf, pos)
      if (next + len > buf.length) throw new ProtobufWireError(`field ${no} at byte ${start} runs past the end (${len} bytes)`)
      field.body = buf.subarray(next, next + len)
      pos = next + len
    } else throw new ProtobufWireError(`unsupported protobuf wire type ${wire} at byte ${start}`)
    field.raw = buf.subarray(start, pos)
    fields.push(field)
  }
  return fields
}

/** A repeated integer field's values: packed (one length-delimited field) or one varint per field. */
export function varints(f: Field): number[] {
  if (f.wire === WIRE_VARINT) return [f.value!]
  const out: number[] = []
  for (let pos = 0; pos < f.body!.length;) {
    const [v, next] = readVarint(f.body!, pos)
    out.push(v)
    pos = next
  }
  return out
}

/** The tag and length of a length-delimited field whose payload follows. */
export function fieldHeader(no: number, length: number): Uint8Array {
  return Uint8Array.from([...writeVarint(no * 8 + WIRE_BYTES), ...writeVarint(length)])
}

export function bytesField(no: number, body: Uint8Array): Uint8Array {
  return concat([fieldHeader(no, body.length), body])
}

export function stringField(no: number, text: string): Uint8Array {
  return bytesField(no, new TextEncoder().encode(text))
}

export function varintField(no: number, value: number): Uint8Array {
  return Uint8Array.from([...writeVarint(no * 8 + WIRE_VARINT), ...writeVarint(value)])
}

/** A float field (wire type 5, little-endian). */
export function float32Field(no: number, value: number): Uint8Array {
  const f = new Uint8Array(5)
  f[0] = no * 8 + WIRE_FIXED32
  new DataView(f.buffer).setFloat32(1, value, true)
  return f
}

/** The value of a float field read by parseFields. */
export const float32Of = (f: Field): number => new DataView(f.raw.buffer, f.raw.byteOffset + f.raw.length - 4, 4).getFloat32(0, true)

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A length-delimited field's payload as UTF-8 text ('' when absent). */
export const text = (b?: Uint8Array): string => (b ? new TextDecoder().decode(b) : '')
