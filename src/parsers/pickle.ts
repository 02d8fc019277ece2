/**
 * A minimal, safe unpickler for plain data: the part of Python's pickle format
 * that the RefCOCO / RefCOCO+ / RefCOCOg `refs(*.p)` files use (lists, dicts,
 * strings, numbers, None, booleans, tuples). It never constructs objects:
 * GLOBAL, REDUCE, BUILD and friends are refused with the opcode's name and byte
 * offset, so a hostile or unexpected file fails loudly instead of running code.
 *
 * A pickle is a program for a stack machine. Example (protocol 2, what Python 2
 * writes for `[{'split': 'val'}]`):
 *
 *   80 02        PROTO 2
 *   5d           EMPTY_LIST            stack: []
 *   71 00        BINPUT 0              memo[0] = that list
 *   7d           EMPTY_DICT            stack: [], {}
 *   55 05 split  SHORT_BINSTRING       stack: [], {}, 'split'   (Python 2 str)
 *   55 03 val    SHORT_BINSTRING
 *   73           SETITEM               stack: [], {split: 'val'}
 *   61           APPEND                stack: [{split: 'val'}]
 *   2e           STOP                  result: the top of the stack
 *
 * Protocols 0 to 5 are read as far as those opcodes go. Values map to JS as:
 * list and tuple → array, dict → plain object (int keys become strings), str and
 * Python 2 str → string (UTF-8, else Latin-1), bytes → Uint8Array, int →
 * number (bigint beyond 2^53), float → number, None → null, bool → boolean.
 */

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleDict
export interface PickleDict {
  [key: string]: PickleValue
}

export class PickleError extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(`pickle byte ${at}: ${message}`)
    this.name = 'PickleError'
  }
}

const MARK = Symbol('mark')
type Slot = PickleValue | typeof MARK

/** Opcodes that build Python objects or read external state: refused by name. */
const REFUSED: Record<number, string> = {
  0x63: 'GLOBAL',
  0x93: 'STACK_GLOBAL',
  0x52: 'REDUCE',
  0x62: 'BUILD',
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
}

const utf8 = new TextDecoder('utf-8', {fatal: true})
const latin1 = new TextDecoder('latin1')

/** Python 2 str bytes as text: UTF-8 when valid, Latin-1 otherwise. */
function bytesToText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    return latin1.decode(bytes)
  }
}

class Reader {
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
function littleEndianSigned(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0
  let v = 0n
  for (let k = bytes.length - 1; k >= 0; k--) v = (v << 8n) | BigInt(bytes[k])
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length)
  return safeInteger(v)
}

function safeInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
}

/** Protocol-0 INT argument: "I01"/"I00" are True/False in Python 2. */
function parseIntLine(text: string, at: number): number | bigint | boolean {
  if (text === '01') return true
  if (text === '00') return false
  if (!/^[+-]?\d+$/.test(text)) throw new PickleError(at, `bad INT argument ${JSON.stringify(text)}`)
  return safeInteger(BigInt(text))
}

/** Protocol-0 STRING argument: a Python 2 repr, single or double quoted, with backslash escapes. */
function parseStringRepr(text: string, at: number): string {
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
function parseRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string, u8: string) =>
    String.fromCodePoint(parseInt(u4 ?? u8, 16)),
  )
}

function dictKey(key: PickleValue, at: number): string {
  if (typeof key === 'string') return key
  if (typeof key === 'number' || typeof key === 'bigint' || typeof key === 'boolean') return String(key)
  throw new PickleError(at, `dict key of type ${describe(key)} is not supported`)
}

function describe(v: Slot): string {
  if (v === MARK) return 'MARK'
  if (v === null) return 'None'
  if (Array.isArray(v)) return 'list'
  if (v instanceof Uint8Array) return 'bytes'
  return typeof v === 'object' ? 'dict' : typeof v
}

/** Parse a pickle into plain values. Throws PickleError on anything it does not know. */
export function unpickle(bytes: Uint8Array): PickleValue {
  return new Machine(new Reader(bytes)).run()
}

class Machine {
  private stack: Slot[] = []
  private marks: number[] = []
  private memo = new Map<number, PickleValue>()
  private opAt = 0

  constructor(private readonly r: Reader) {}

  run(): PickleValue {
    for (;;) {
      this.opAt = this.r.pos
      const op = this.r.u8()
      if (op === 0x2e) return this.finish()
      this.step(op)
    }
  }

  private finish(): PickleValue {
    if (this.stack.length !== 1 || this.marks.length > 0)
      throw this.error(`STOP with ${this.stack.length} values and ${this.marks.length} open marks on the stack`)
    return this.value(this.stack[0])
  }

  private error(message: string): PickleError {
    return new PickleError(this.opAt, message)
  }

  private push(v: PickleValue): void {
    this.stack.push(v)
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) throw this.error('stack underflow')
    return this.value(this.stack.pop() as Slot)
  }

  private top(): PickleValue {
    if (this.stack.length === 0) throw this.error('stack underflow')
    return this.value(this.stack[this.stack.length - 1])
  }

  private value(v: Slot): PickleValue {
    if (v === MARK) throw this.error('a MARK where a value was expected')
    return v
  }

  /** Everything above the last MARK, which is removed. */
  private popToMark(): PickleValue[] {
    const m = this.marks.pop()
    if (m === undefined) throw this.error('no MARK on the stack')
    const items = this.stack.splice(m).slice(1) as PickleValue[]
    return items
  }

  private list(v: PickleValue): PickleValue[] {
    if (!Array.isArray(v)) throw this.error(`APPEND to a ${describe(v)}, expected a list`)
    return v
  }

  private dict(v: PickleValue): PickleDict {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
      throw this.error(`SETITEM on a ${describe(v)}, expected a dict`)
    return v
  }

  private setItems(d: PickleDict, flat: PickleValue[]): void {
    if (flat.length % 2 !== 0) throw this.error('SETITEMS with an odd number of values')
    for (let k = 0; k < flat.length; k += 2) d[dictKey(flat[k], this.opAt)] = flat[k + 1]
  }

  private memoGet(index: number): void {
    if (!this.memo.has(index)) throw this.error(`memo key ${index} was never stored`)
    this.push(this.memo.get(index) as PickleValue)
  }

  private step(op: number): void {
    const r = this.r
    switch (op) {
      case 0x80: {
        const p = r.u8()
        if (p > 5) throw this.error(`pickle protocol ${p} is newer than 5`)
        return
      }
      case 0x95:
        r.take(8)
        return // FRAME: a length hint only
      case 0x28:
        this.marks.push(this.stack.length)
        this.stack.push(MARK)
        return
      case 0x5d:
        this.push([])
        return // EMPTY_LIST
      case 0x7d:
        this.push({})
        return // EMPTY_DICT
      case 0x29:
        this.push([])
        return // EMPTY_TUPLE
      case 0x6c:
      case 0x74:
        this.push(this.popToMark())
        return // LIST, TUPLE
      case 0x64: {
        const d: PickleDict = {}
        this.setItems(d, this.popToMark())
        this.push(d)
        return
      } // DICT
      case 0x85:
        this.push([this.pop()])
        return // TUPLE1
      case 0x86: {
        const b = this.pop()
        const a = this.pop()
        this.push([a, b])
        return
      } // TUPLE2
      case 0x87: {
        const c = this.pop()
        const b = this.pop()
        const a = this.pop()
        this.push([a, b, c])
        return
      } // TUPLE3
      case 0x61: {
        const v = this.pop()
        this.list(this.top()).push(v)
        return
      } // APPEND
      case 0x65: {
        const items = this.popToMark()
        this.list(this.top()).push(...items)
        return
      } // APPENDS
      case 0x73: {
        const v = this.pop()
        const k = this.pop()
        this.setItems(this.dict(this.top()), [k, v])
        return
      } // SETITEM
      case 0x75: {
        const flat = this.popToMark()
        this.setItems(this.dict(this.top()), flat)
        return
      } // SETITEMS
      case 0x58:
        this.push(utf8Decode(r.take(r.u32()), this.opAt))
        return // BINUNICODE
      case 0x8c:
        this.push(utf8Decode(r.take(r.u8()), this.opAt))
        return // SHORT_BINUNICODE
      case 0x8d:
        this.push(utf8Decode(r.take(r.u64()), this.opAt))
        return // BINUNICODE8
      case 0x56:
        this.push(parseRawUnicodeEscape(r.line()))
        return // UNICODE
      case 0x54:
        this.push(bytesToText(r.take(r.i32())))
        return // BINSTRING
      case 0x55:
        this.push(bytesToText(r.take(r.u8())))
        return // SHORT_BINSTRING
      case 0x53:
        this.push(parseStringRepr(r.line(), this.opAt))
        return // STRING
      case 0x42:
        this.push(r.take(r.u32()).slice())
        return // BINBYTES
      case 0x43:
        this.push(r.take(r.u8()).slice())
        return // SHORT_BINBYTES
      case 0x8e:
        this.push(r.take(r.u64()).slice())
        return // BINBYTES8
      case 0x4a:
        this.push(r.i32())
        return // BININT
      case 0x4b:
        this.push(r.u8())
        return // BININT1
      case 0x4d:
        this.push(r.u16())
        return // BININT2
      case 0x49:
        this.push(parseIntLine(r.line(), this.opAt))
        return // INT
      case 0x4c:
        this.push(safeInteger(BigInt(r.line().replace(/L$/, ''))))
        return // LONG
      case 0x8a:
        this.push(littleEndianSigned(r.take(r.u8())))
        return // LONG1
      case 0x8b:
        this.push(littleEndianSigned(r.take(r.i32())))
        return // LONG4
      case 0x47:
        this.push(r.f64be())
        return // BINFLOAT
      case 0x46:
        this.push(Number(r.line()))
        return // FLOAT
      case 0x4e:
        this.push(null)
        return // NONE
      case 0x88:
        this.push(true)
        return // NEWTRUE
      case 0x89:
        this.push(false)
        return // NEWFALSE
      case 0x70:
        this.memo.set(Number(r.line()), this.top())
        return // PUT
      case 0x71:
        this.memo.set(r.u8(), this.top())
        return // BINPUT
      case 0x72:
        this.memo.set(r.u32(), this.top())
        return // LONG_BINPUT
      case 0x94:
        this.memo.set(this.memo.size, this.top())
        return // MEMOIZE
      case 0x67:
        this.memoGet(Number(r.line()))
        return // GET
      case 0x68:
        this.memoGet(r.u8())
        return // BINGET
      case 0x6a:
        this.memoGet(r.u32())
        return // LONG_BINGET
      case 0x30:
        this.pop()
        return // POP
      case 0x31:
        this.popToMark()
        return // POP_MARK
      case 0x32:
        this.push(this.top())
        return // DUP
      default:
        throw this.error(refusal(op))
    }
  }
}

function utf8Decode(bytes: Uint8Array, at: number): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new PickleError(at, 'a unicode string that is not valid UTF-8')
  }
}

function refusal(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`
  const name = REFUSED[op]
  return name
    ? `opcode ${name} (${hex}) is not supported: the file holds Python objects, not only lists, dicts, strings and numbers`
    : `unknown opcode ${hex}: not a pickle, or a kind this reader does not handle`
}
