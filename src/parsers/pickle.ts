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

import {
  PickleError,
  Reader,
  bytesToText,
  littleEndianSigned,
  parseIntLine,
  parseRawUnicodeEscape,
  parseStringRepr,
  safeInteger,
  utf8Decode,
} from './pickle-bytes.js'

export {PickleError} from './pickle-bytes.js'

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleValue[] | PickleDict
export interface PickleDict {
  [key: string]: PickleValue
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
  readonly stack: Slot[] = []
  readonly marks: number[] = []
  readonly memo = new Map<number, PickleValue>()
  opAt = 0

  constructor(readonly r: Reader) {}

  run(): PickleValue {
    for (;;) {
      this.opAt = this.r.pos
      const op = this.r.u8()
      if (op === 0x2e) return this.finish()
      const handle = OPCODES[op]
      if (!handle) throw this.error(refusal(op))
      handle(this, this.r)
    }
  }

  private finish(): PickleValue {
    if (this.stack.length !== 1 || this.marks.length > 0)
      throw this.error(`STOP with ${this.stack.length} values and ${this.marks.length} open marks on the stack`)
    return this.value(this.stack[0])
  }

  error(message: string): PickleError {
    return new PickleError(this.opAt, message)
  }

  push(v: PickleValue): void {
    this.stack.push(v)
  }

  pop(): PickleValue {
    if (this.stack.length === 0) throw this.error('stack underflow')
    return this.value(this.stack.pop() as Slot)
  }

  top(): PickleValue {
    if (this.stack.length === 0) throw this.error('stack underflow')
    return this.value(this.stack[this.stack.length - 1])
  }

  private value(v: Slot): PickleValue {
    if (v === MARK) throw this.error('a MARK where a value was expected')
    return v
  }

  /** Everything above the last MARK, which is removed. */
  popToMark(): PickleValue[] {
    const m = this.marks.pop()
    if (m === undefined) throw this.error('no MARK on the stack')
    const items = this.stack.splice(m).slice(1) as PickleValue[]
    return items
  }

  list(v: PickleValue): PickleValue[] {
    if (!Array.isArray(v)) throw this.error(`APPEND to a ${describe(v)}, expected a list`)
    return v
  }

  dict(v: PickleValue): PickleDict {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
      throw this.error(`SETITEM on a ${describe(v)}, expected a dict`)
    return v
  }

  setItems(d: PickleDict, flat: PickleValue[]): void {
    if (flat.length % 2 !== 0) throw this.error('SETITEMS with an odd number of values')
    for (let k = 0; k < flat.length; k += 2) d[dictKey(flat[k], this.opAt)] = flat[k + 1]
  }

  memoGet(index: number): void {
    if (!this.memo.has(index)) throw this.error(`memo key ${index} was never stored`)
    this.push(this.memo.get(index) as PickleValue)
  }
}

type Handler = (m: Machine, r: Reader) => void

/** What each supported opcode does, by byte (Python's pickletools names in the comments). */
const OPCODES: Record<number, Handler> = {
  // framing and protocol
  0x80: (m, r) => {
    const p = r.u8()
    if (p > 5) throw m.error(`pickle protocol ${p} is newer than 5`)
  }, // PROTO
  0x95: (_m, r) => void r.take(8), // FRAME: a length hint only
  // containers
  0x28: (m) => {
    m.marks.push(m.stack.length)
    m.stack.push(MARK)
  }, // MARK
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x7d: (m) => m.push({}), // EMPTY_DICT
  0x29: (m) => m.push([]), // EMPTY_TUPLE
  0x6c: (m) => m.push(m.popToMark()), // LIST
  0x74: (m) => m.push(m.popToMark()), // TUPLE
  0x64: (m) => {
    const d: PickleDict = {}
    m.setItems(d, m.popToMark())
    m.push(d)
  }, // DICT
  0x85: (m) => m.push([m.pop()]), // TUPLE1
  0x86: (m) => {
    const b = m.pop()
    m.push([m.pop(), b])
  }, // TUPLE2
  0x87: (m) => {
    const c = m.pop()
    const b = m.pop()
    m.push([m.pop(), b, c])
  }, // TUPLE3
  0x61: (m) => {
    const v = m.pop()
    m.list(m.top()).push(v)
  }, // APPEND
  0x65: (m) => {
    const items = m.popToMark()
    m.list(m.top()).push(...items)
  }, // APPENDS
  0x73: (m) => {
    const v = m.pop()
    const k = m.pop()
    m.setItems(m.dict(m.top()), [k, v])
  }, // SETITEM
  0x75: (m) => {
    const flat = m.popToMark()
    m.setItems(m.dict(m.top()), flat)
  }, // SETITEMS
  // strings and bytes
  0x58: (m, r) => m.push(utf8Decode(r.take(r.u32()), m.opAt)), // BINUNICODE
  0x8c: (m, r) => m.push(utf8Decode(r.take(r.u8()), m.opAt)), // SHORT_BINUNICODE
  0x8d: (m, r) => m.push(utf8Decode(r.take(r.u64()), m.opAt)), // BINUNICODE8
  0x56: (m, r) => m.push(parseRawUnicodeEscape(r.line())), // UNICODE
  0x54: (m, r) => m.push(bytesToText(r.take(r.i32()))), // BINSTRING
  0x55: (m, r) => m.push(bytesToText(r.take(r.u8()))), // SHORT_BINSTRING
  0x53: (m, r) => m.push(parseStringRepr(r.line(), m.opAt)), // STRING
  0x42: (m, r) => m.push(r.take(r.u32()).slice()), // BINBYTES
  0x43: (m, r) => m.push(r.take(r.u8()).slice()), // SHORT_BINBYTES
  0x8e: (m, r) => m.push(r.take(r.u64()).slice()), // BINBYTES8
  // numbers and constants
  0x4a: (m, r) => m.push(r.i32()), // BININT
  0x4b: (m, r) => m.push(r.u8()), // BININT1
  0x4d: (m, r) => m.push(r.u16()), // BININT2
  0x49: (m, r) => m.push(parseIntLine(r.line(), m.opAt)), // INT
  0x4c: (m, r) => m.push(safeInteger(BigInt(r.line().replace(/L$/, '')))), // LONG
  0x8a: (m, r) => m.push(littleEndianSigned(r.take(r.u8()))), // LONG1
  0x8b: (m, r) => m.push(littleEndianSigned(r.take(r.i32()))), // LONG4
  0x47: (m, r) => m.push(r.f64be()), // BINFLOAT
  0x46: (m, r) => m.push(Number(r.line())), // FLOAT
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  // the memo and the stack
  0x70: (m, r) => void m.memo.set(Number(r.line()), m.top()), // PUT
  0x71: (m, r) => void m.memo.set(r.u8(), m.top()), // BINPUT
  0x72: (m, r) => void m.memo.set(r.u32(), m.top()), // LONG_BINPUT
  0x94: (m) => void m.memo.set(m.memo.size, m.top()), // MEMOIZE
  0x67: (m, r) => m.memoGet(Number(r.line())), // GET
  0x68: (m, r) => m.memoGet(r.u8()), // BINGET
  0x6a: (m, r) => m.memoGet(r.u32()), // LONG_BINGET
  0x30: (m) => void m.pop(), // POP
  0x31: (m) => void m.popToMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
}

function refusal(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`
  const name = REFUSED[op]
  return name
    ? `opcode ${name} (${hex}) is not supported: the file holds Python objects, not only lists, dicts, strings and numbers`
    : `unknown opcode ${hex}: not a pickle, or a kind this reader does not handle`
}
