import {describe, expect, it} from 'vitest'
import {firstInvalidUtf8, invalidUtf8Message, showBytes} from '../../src/parsers/utf8.js'

const fatal = new TextDecoder('utf-8', {fatal: true})

/** TextDecoder's verdict: the length of the longest prefix that decodes, when the whole does not. */
function decoderOffset(bytes: Uint8Array): number | null {
  try {
    fatal.decode(bytes)
    return null
  } catch {
    let n = bytes.length
    // the longest prefix that decodes ends at the bad sequence (or inside a sequence cut short)
    while (n > 0) {
      try {
        fatal.decode(bytes.subarray(0, n))
        break
      } catch {
        n--
      }
    }
    return n
  }
}

describe('firstInvalidUtf8', () => {
  it.each([
    ['café in Latin-1', [0x63, 0x61, 0x66, 0xe9, 0x2e], {offset: 3, bytes: [0xe9, 0x2e]}],
    ['a continuation byte alone', [0x41, 0x80], {offset: 1, bytes: [0x80]}],
    ['0xff', [0xff], {offset: 0, bytes: [0xff]}],
    ['overlong "/" (C0 AF)', [0xc0, 0xaf], {offset: 0, bytes: [0xc0]}],
    ['overlong 3-byte (E0 80 80)', [0xe0, 0x80, 0x80], {offset: 0, bytes: [0xe0, 0x80]}],
    ['a surrogate (ED A0 80)', [0xed, 0xa0, 0x80], {offset: 0, bytes: [0xed, 0xa0]}],
    ['above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80], {offset: 0, bytes: [0xf4, 0x90]}],
    ['a 4-byte sequence cut at the end', [0x41, 0xf0, 0x9f, 0x98], {offset: 1, bytes: [0xf0, 0x9f, 0x98]}],
    ['é, € and 😀 written right', [...new TextEncoder().encode('é€😀')], null],
  ])('%s', (_, bytes, expected) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toEqual(expected)
  })

  it('agrees with TextDecoder (fatal) on where 20000 random byte strings stop being UTF-8', () => {
    let seed = 20260101
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 256
    // mostly ASCII and well-formed lead/continuation bytes, so that the bad byte falls anywhere
    const pool = [0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xa0, 0x9f, 0x90, 0x8f]
    for (let k = 0; k < 20000; k++) {
      const bytes = Uint8Array.from({length: 1 + (k % 9)}, () => (random() < 128 ? pool[Math.floor(random()) % pool.length] : random()))
      expect(firstInvalidUtf8(bytes)?.offset ?? null).toBe(decoderOffset(bytes))
    }
  })

  it('shows bytes in hex', () => {
    expect(showBytes([0xe9, 0x2e])).toBe('0xe9 0x2e')
  })
})

describe('invalidUtf8Message', () => {
  const text = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'))

  it('places the first bad byte by line, column and byte, as the COCO reader says it', () => {
    expect(invalidUtf8Message(text('{"a": 1}\n{"b": "caf\xe9"}\n'))).toBe(
      'invalid UTF-8 at line 2, column 11 (byte 19): bytes 0xe9 0x22 do not form a character; save the file as UTF-8',
    )
    expect(invalidUtf8Message(text('caf\xe9'))).toMatch(/^invalid UTF-8 at line 1, column 4 \(byte 3\): bytes 0xe9 do not/)
  })

  it('counts from where the bytes start in their file', () => {
    const start = {line: 3, column: 7, offset: 40}
    expect(invalidUtf8Message(text('ab\xe9'), start)).toMatch(/^invalid UTF-8 at line 3, column 9 \(byte 42\)/)
    expect(invalidUtf8Message(text('a\nb\xe9'), start)).toMatch(/^invalid UTF-8 at line 4, column 2 \(byte 43\)/)
  })

  it('null for UTF-8', () => {
    expect(invalidUtf8Message(Uint8Array.from(Buffer.from('café ✓ 🐈\n')))).toBeNull()
  })
})
