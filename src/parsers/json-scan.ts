/**
 * Streaming scan of a JSON document whose top level is an object, for files too
 * big to hold as one string (COCO train2017: 448 MB). Bytes go in by chunks;
 * out come the top-level members, and for a member whose value is an array,
 * each element on its own, as a byte slice with its position:
 *
 *   {"images": [{"id": 1}, 7], "info": {"year": 2017}}
 *   → {kind: 'array',   key: 'images', index: -1, bytes: '',              offset: 11, line: 1, column: 12}
 *     {kind: 'element', key: 'images', index: 0,  bytes: '{"id": 1}',     offset: 12, line: 1, column: 13}
 *     {kind: 'element', key: 'images', index: 1,  bytes: '7',             offset: 23, ...}
 *     {kind: 'value',   key: 'info',   index: -1,  bytes: '{"year": 2017}', offset: 35, ...}
 *
 * Positions: `offset` in bytes from the start of the input (a UTF-8 BOM
 * included), `line` from 1, `column` in bytes from 1. The scanner checks the
 * grammar of the top two levels itself (braces, keys, colons, commas); inside an
 * element it only follows strings and nesting to find the element's end, so the
 * caller validates each slice with JSON.parse. Memory: the largest element, not
 * the document. Pure: no file access.
 */
export type ScanEventKind = 'array' | 'element' | 'value'

export interface ScanEvent {
  kind: ScanEventKind
  /** the top-level member's key */
  key: string
  /** element index in the member's array; -1 for 'array' and 'value' */
  index: number
  /** the element's or value's bytes (empty for 'array') */
  bytes: Uint8Array
  offset: number
  line: number
  column: number
}

/** A syntax error at the top two levels, or input that ends too early. */
export class JsonScanError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
    /** a few bytes around the position, as text */
    readonly near: string,
  ) {
    super(`${reason} at line ${line}, column ${column} (byte ${offset})`)
    this.name = 'JsonScanError'
  }
}

const enum S {
  Start, // before the root '{'
  KeyOrClose, // after '{'
  Key, // inside a key string
  Colon,
  Value, // after ':'
  FirstElement, // after '['
  NextElement, // after ',' in an array
  AfterElement,
  AfterValue, // after a member's value
  NextKey, // after ',' in the root
  Capture, // inside an element or member value
  End, // after the root '}'
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const NEWLINE = 0x0a
const BOM = [0xef, 0xbb, 0xbf]

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09
/** bytes a number, true, false or null may start with */
const isScalarStart = (b: number) => b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e

export class JsonTopScanner {
  private state = S.Start
  private base = 0 // offset of the current chunk's first byte
  private line = 1
  private lineStart = 0
  private key = ''
  private index = 0
  private inArray = false
  // the capture in progress
  private parts: Uint8Array[] = []
  private depth = 0
  private inString = false
  private escape = false
  private scalar = false
  private start = {offset: 0, line: 1, column: 1}
  private chunk: Uint8Array = new Uint8Array(0)
  private chunkBase = 0

  /** Feed the next chunk; returns the events it completed. Throws JsonScanError. */
  push(chunk: Uint8Array): ScanEvent[] {
    const events: ScanEvent[] = []
    this.chunk = chunk
    this.chunkBase = this.base
    let i = 0
    let from = i // where the current capture's bytes in this chunk begin
    while (i < chunk.length) {
      if (this.state === S.Capture || this.state === S.Key) {
        const end = this.state === S.Key ? this.scanString(chunk, i) : this.scanCapture(chunk, i)
        if (end < 0) break
        this.parts.push(chunk.subarray(from, end))
        this.finishCapture(events)
        i = end
        continue
      }
      const b = chunk[i]
      if (isSpace(b)) {
        if (b === NEWLINE) this.newline(this.base + i)
        i++
        continue
      }
      from = i // a capture begun here includes this byte (a key's opening quote, a value's first byte)
      i = this.step(b, i, events)
    }
    if (this.state === S.Capture || this.state === S.Key) this.parts.push(chunk.subarray(from))
    this.base += chunk.length
    return events
  }

  /** No more input: throws when the document is not complete. */
  end(): void {
    if (this.state === S.End) return
    const what =
      this.state === S.Start
        ? 'empty input: expected a JSON object'
        : this.state === S.Capture
          ? `unexpected end of input inside ${this.where()}`
          : 'unexpected end of input'
    throw this.error(what, this.base)
  }

  /** One structural byte outside a capture; returns the next index. */
  private step(b: number, i: number, events: ScanEvent[]): number {
    const at = this.base + i
    switch (this.state) {
      case S.Start:
        if (at < BOM.length && b === BOM[at]) return i + 1
        if (b !== 0x7b) throw this.error('expected "{" (a COCO file is one JSON object)', at)
        this.state = S.KeyOrClose
        return i + 1
      case S.KeyOrClose:
      case S.NextKey:
        if (b === 0x7d && this.state === S.KeyOrClose) return this.goto(S.End, i)
        if (b !== QUOTE) throw this.error('expected a double-quoted key', at)
        this.beginCapture(at)
        this.state = S.Key
        this.inString = true
        return i + 1
      case S.Colon:
        if (b !== 0x3a) throw this.error(`expected ":" after key ${JSON.stringify(this.key)}`, at)
        return this.goto(S.Value, i)
      case S.Value:
        if (b === 0x5b) {
          this.inArray = true
          this.index = 0
          events.push({kind: 'array', key: this.key, index: -1, bytes: new Uint8Array(0), ...this.position(at)})
          return this.goto(S.FirstElement, i)
        }
        this.inArray = false
        return this.beginValue(b, i)
      case S.FirstElement:
        if (b === 0x5d) return this.goto(S.AfterValue, i)
        return this.beginValue(b, i)
      case S.NextElement:
        return this.beginValue(b, i)
      case S.AfterElement:
        if (b === 0x2c) return this.goto(S.NextElement, i)
        if (b === 0x5d) return this.goto(S.AfterValue, i)
        throw this.error(`expected "," or "]" after ${this.key}[${this.index - 1}]`, at)
      case S.AfterValue:
        if (b === 0x2c) return this.goto(S.NextKey, i)
        if (b === 0x7d) return this.goto(S.End, i)
        throw this.error(`expected "," or "}" after the value of ${JSON.stringify(this.key)}`, at)
      case S.End:
        throw this.error('unexpected data after the end of the top-level object', at)
      default:
        throw new Error(`json-scan: unexpected state ${this.state}`)
    }
  }

  private goto(state: S, i: number): number {
    this.state = state
    return i + 1
  }

  private beginValue(b: number, i: number): number {
    const at = this.base + i
    if (b !== 0x7b && b !== 0x5b && b !== QUOTE && !isScalarStart(b)) throw this.error(`unexpected character in ${this.where()}`, at)
    this.beginCapture(at)
    this.state = S.Capture
    this.scalar = isScalarStart(b)
    this.inString = b === QUOTE
    this.depth = b === 0x7b || b === 0x5b ? 1 : 0
    return i + 1
  }

  private beginCapture(at: number): void {
    this.parts = []
    this.escape = false
    this.start = this.position(at)
  }

  /** Scan an element from index i; returns the index just past its end, or -1 if it goes on in the next chunk. */
  private scanCapture(chunk: Uint8Array, i: number): number {
    if (this.scalar) {
      for (; i < chunk.length; i++) {
        const b = chunk[i]
        if (isSpace(b) || b === 0x2c || b === 0x5d || b === 0x7d) return i
      }
      return -1
    }
    if (this.depth === 0) return this.scanString(chunk, i) // a top-level string element
    let {depth, inString, escape} = this
    for (; i < chunk.length; i++) {
      const b = chunk[i]
      if (b === NEWLINE) this.newline(this.base + i)
      else if (inString) {
        if (escape) escape = false
        else if (b === BACKSLASH) escape = true
        else if (b === QUOTE) inString = false
      } else if (b === QUOTE) inString = true
      else if (b === 0x7b || b === 0x5b) depth++
      else if ((b === 0x7d || b === 0x5d) && --depth === 0) {
        this.depth = 0
        return i + 1
      }
    }
    Object.assign(this, {depth, inString, escape})
    return -1
  }

  /** Scan to the closing quote of a string; returns the index just past it, or -1. */
  private scanString(chunk: Uint8Array, i: number): number {
    for (; i < chunk.length; i++) {
      const b = chunk[i]
      if (b === NEWLINE) this.newline(this.base + i)
      if (this.escape) this.escape = false
      else if (b === BACKSLASH) this.escape = true
      else if (b === QUOTE) {
        this.inString = false
        return i + 1
      }
    }
    return -1
  }

  private finishCapture(events: ScanEvent[]): void {
    const bytes = concat(this.parts)
    this.parts = []
    if (this.state === S.Key) {
      this.key = this.keyText(bytes)
      this.state = S.Colon
      return
    }
    const kind = this.inArray ? 'element' : 'value'
    events.push({kind, key: this.key, index: this.inArray ? this.index++ : -1, bytes, ...this.start})
    this.state = this.inArray ? S.AfterElement : S.AfterValue
  }

  private where(): string {
    return this.inArray ? `${this.key}[${this.index}]` : `the value of ${JSON.stringify(this.key)}`
  }

  private newline(at: number): void {
    this.line++
    this.lineStart = at + 1
  }

  private position(at: number): {offset: number; line: number; column: number} {
    return {offset: at, line: this.line, column: at - this.lineStart + 1}
  }

  private keyText(bytes: Uint8Array): string {
    try {
      return JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(bytes)) as string
    } catch {
      throw this.error('invalid key string (not JSON, or not UTF-8)', this.start.offset)
    }
  }

  private error(reason: string, at: number): JsonScanError {
    const i = at - this.chunkBase
    const near = new TextDecoder().decode(this.chunk.subarray(Math.max(0, i - 20), Math.max(0, i + 20)))
    const {line, column} = this.position(at)
    return new JsonScanError(reason, at, line, column, near)
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
