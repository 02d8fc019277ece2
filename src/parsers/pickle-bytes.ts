/**
 * The byte level of pickle reading (see pickle.ts): a cursor over the file with the integer,
 * length-prefixed and line-terminated arguments opcodes take, and the text and number forms of
 * their values.
 */

export class PickleError extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(`pickle byte ${at}: ${message}`)
    this.name = 'PickleError'
  }
}

const utf8 = new TextDecoder('utf-8', {fatal: true})
const latin1 = new TextDecoder('latin1')

/** Python 2 str bytes as text: UTF-8 when valid, Latin-1 otherwise. */
export function bytesToText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    return latin1.decode(bytes)
  }
}

export class Reader {
  pos = 0
  private readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.bytes.length)
      throw new PickleError(this.pos, `truncated: ${n} more bytes expected, file ends at ${this.bytes.length}`)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  u8(): number {
    return this.take(1)[0]
  }
  u16(): number {
    const at = this.pos
    this.take(2)
    return this.view.getUint16(at, true)
  }
  u32(): number {
    const at = this.pos
    this.take(4)
    return this.view.getUint32(at, true)
  }
  i32(): number {
    const at = this.pos
    this.take(4)
    return this.view.getInt32(at, true)
  }
  f64be(): number {
    const at = this.pos
    this.take(8)
    return this.view.getFloat64(at, false)
  }

  u64(): number {
    const at = this.pos
    this.take(8)
    const v = this.view.getBigUint64(at, true)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(at, 'length too large')
    return Number(v)
  }

  /** A text line (protocol 0 argument), without its newline. */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos)
    if (end < 0) throw new PickleError(this.pos, 'truncated: newline expected')
    const text = latin1.decode(this.bytes.subarray(this.pos, end))
    this.pos = end + 1
    return text
  }
}

/** Little-endian two's-complement integer (LONG1 / LONG4). */
export function littleEndianSigned(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0
  let v = 0n
  for (let k = bytes.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k])
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length)
  return safeInteger(v)
}

export function safeInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
}

/** Protocol-0 INT argument: "I01"/"I00" are True/False in Python 2. */
export function parseIntLine(text: string, at: number): number | bigint | boolean {
  if (text === '01') return true
  if (text === '00') return false
  if (!/^[+-]?\d+$/.test(text)) throw new PickleError(at, `bad INT argument ${JSON.stringify(text)}`)
  return safeInteger(BigInt(text))
}

/** Protocol-0 STRING argument: a Python 2 repr, single or double quoted, with backslash escapes. */
export function parseStringRepr(text: string, at: number): string {
  const q = text[0]
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q)
    throw new PickleError(at, `bad STRING argument ${JSON.stringify(text)}`)
  const body = text.slice(1, -1)
  const out: number[] = []
  const simple: Record<string, number> = {n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '0': 0}
  for (let k = 0; k < body.length; k++) {
    const ch = body[k]
    if (ch !== '\\') {
      out.push(body.charCodeAt(k))
      continue
    }
    const next = body[++k]
    if (next === 'x') {
      out.push(parseInt(body.slice(k + 1, k + 3), 16))
      k += 2
      continue
    }
    const octal = body.slice(k).match(/^[0-7]{1,3}/)
    if (octal && octal[0].length > 1) {
      out.push(parseInt(octal[0], 8))
      k += octal[0].length - 1
      continue
    }
    if (next in simple) {
      out.push(simple[next])
      continue
    }
    out.push(92, body.charCodeAt(k))
  }
  return bytesToText(Uint8Array.from(out))
}

/** Protocol-0 UNICODE argument: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes). */
export function parseRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string, u8: string) =>
    String.fromCodePoint(parseInt(u4 ?? u8, 16)),
  )
}

export function utf8Decode(bytes: Uint8Array, at: number): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new PickleError(at, 'a unicode string that is not valid UTF-8')
  }
}
