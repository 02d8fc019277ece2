import {describe, expect, it} from 'vitest'
import {JsonScanError, JsonTopScanner, type ScanEvent} from '../../src/parsers/json-scan.js'

const text = (e: ScanEvent) => new TextDecoder().decode(e.bytes)

/** Feed `input` in chunks of `size` bytes; the events as short strings. */
function scan(input: string, size: number): string[] {
  const bytes = new TextEncoder().encode(input)
  const scanner = new JsonTopScanner()
  const out: string[] = []
  for (let i = 0; i < bytes.length; i += size) {
    for (const e of scanner.push(bytes.subarray(i, i + size)))
      out.push(`${e.kind} ${e.key}[${e.index}] ${text(e)} @${e.offset} ${e.line}:${e.column}`)
  }
  scanner.end()
  return out
}

function scanError(input: string, size = 7): JsonScanError {
  try {
    scan(input, size)
  } catch (error) {
    expect(error).toBeInstanceOf(JsonScanError)
    return error as JsonScanError
  }
  throw new Error('no error')
}

describe('JsonTopScanner', () => {
  const doc = '\ufeff{"images": [{"id": 1, "s": "a]}\\"b"}, 7 , "x\\\\", null],\n "info": {"y": [2017]}, "b\\u0041": -1.5e3,\n"empty": []}'

  // offsets count the 3 BOM bytes; columns are bytes from 1
  it('yields top-level members and array elements as byte slices with positions, whatever the chunk size', () => {
    const expected = [
      'array images[-1]  @14 1:15',
      'element images[0] {"id": 1, "s": "a]}\\"b"} @15 1:16',
      'element images[1] 7 @41 1:42',
      'element images[2] "x\\\\" @45 1:46',
      'element images[3] null @52 1:53',
      'value info[-1] {"y": [2017]} @68 2:10',
      'value bA[-1] -1.5e3 @94 2:36',
      'array empty[-1]  @111 3:10',
    ]
    for (const size of [1, 2, 3, 5, 16, 1 << 20]) expect(scan(doc, size)).toEqual(expected)
  })

  it('leaves each element valid for JSON.parse, multi-byte characters included', () => {
    const bytes = new TextEncoder().encode('{"a": [{"name": "café ☕", "n": [1, 2]}, "é"]}')
    const scanner = new JsonTopScanner()
    const events = [...bytes].flatMap((b) => scanner.push(Uint8Array.of(b)))
    expect(events.filter((e) => e.kind === 'element').map((e) => JSON.parse(text(e)))).toEqual([{name: 'café ☕', n: [1, 2]}, 'é'])
  })

  it.each([
    ['', 'empty input: expected a JSON object', 1, 1],
    ['[1, 2]', 'expected "{" (a COCO file is one JSON object)', 1, 1],
    ['{"a": [1, 2', 'unexpected end of input inside a[1]', 1, 12],
    ['{"a": [{"b": 1}', 'unexpected end of input', 1, 16],
    ['{"a": [1, 2],}', 'expected a double-quoted key', 1, 14],
    ['{"a": [1,]}', 'unexpected character in a[1]', 1, 10],
    ['{"a": [1 2]}', 'expected "," or "]" after a[0]', 1, 10],
    ['{"a" 1}', 'expected ":" after key "a"', 1, 6],
    ['{"a": 1 "b": 2}', 'expected "," or "}" after the value of "a"', 1, 9],
    ['{"a": 1}\n x', 'unexpected data after the end of the top-level object', 2, 2],
    ['{"a": [NaN]}', 'unexpected character in a[0]', 1, 8],
    ['{\n"a": [\n{"x": 1},\n{"y": "]"}]', 'unexpected end of input', 4, 12],
  ])('%j: %s at line %i, column %i', (input, reason, line, column) => {
    const error = scanError(input)
    expect(error.reason).toBe(reason)
    expect([error.line, error.column]).toEqual([line, column])
  })
})
