import {readFileSync} from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {PickleError, type PickleDict, unpickle} from '../../src/parsers/pickle.js'

const REFEXP = fileURLToPath(new URL('../../fixtures/refexp', import.meta.url))
const read = (name: string) => readFileSync(path.join(REFEXP, name))

/** Bytes from a readable mix of strings (latin-1) and numbers. */
function bytes(...parts: (string | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)))
}

describe('unpickle on the real RefCOCOg (umd) refs file', () => {
  const refs = unpickle(read('refs(umd).p')) as PickleDict[]

  it('reads 15 refs with 28 sentences over the train, val and test splits', () => {
    expect(refs.length).toBe(15)
    expect(refs.reduce((s, r) => s + (r.sentences as unknown[]).length, 0)).toBe(28)
    expect([...new Set(refs.map((r) => r.split))].sort()).toEqual(['test', 'train', 'val'])
  })

  it('keeps the refer-toolkit fields of a ref', () => {
    const first = refs[0]
    expect(first).toMatchObject({image_id: 122469, split: 'train', ann_id: 251837, category_id: 1, ref_id: 40373, sent_ids: [91981, 91982]})
    expect((first.sentences as PickleDict[])[1]).toEqual({
      tokens: ['a', 'woman', 'wearing', 'black', 'dress'],
      raw: 'a woman wearing black dress',
      sent_id: 91982,
      sent: 'a woman wearing black dress',
    })
    const polarBear = refs.find((r) => r.ann_id === 587134)
    expect(polarBear?.image_id).toBe(538737)
  })

  it('gives the same value for the same refs re-pickled with protocols 0 and 2 (see fixtures/refexp/SOURCE.md)', () => {
    const text = JSON.stringify(refs)
    expect(JSON.stringify(unpickle(read('refs(umd)-protocol0.p')))).toBe(text)
    expect(JSON.stringify(unpickle(read('refs(umd)-protocol2.p')))).toBe(text)
  })
})

describe('unpickle opcodes', () => {
  it('reads what Python 2 writes with protocol 2: str as SHORT_BINSTRING, BINPUT/BINGET, tuples, None, bools, floats, longs', () => {
    // [{'split': 'val', 'box': (1.5, None), 'ok': True, 'big': 2**70}, <the same dict again>]
    const p = bytes(
      [0x80, 2],
      ']',
      'q',
      [0],
      '(',
      '}',
      'q',
      [1],
      '(',
      'U',
      [5],
      'split',
      'U',
      [3],
      'val',
      'U',
      [3],
      'box',
      'G',
      [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
      'N',
      [0x86],
      'U',
      [2],
      'ok',
      [0x88],
      'U',
      [3],
      'big',
      [0x8a, 9],
      [0, 0, 0, 0, 0, 0, 0, 0, 0x40],
      'u',
      'h',
      [1],
      'e',
      '.',
    )
    const v = unpickle(p) as PickleDict[]
    expect(v.length).toBe(2)
    expect(v[0]).toEqual({split: 'val', box: [1.5, null], ok: true, big: 2n ** 70n})
    expect(v[1]).toBe(v[0])
  })

  it('reads protocol 0 text opcodes: STRING reprs with escapes, UNICODE, INT bools, LONG, FLOAT, PUT/GET', () => {
    const p = bytes("(lp0\nS'it\\'s'\np1\naVcaf\\u00e9\np2\naI01\naL12L\naF0.25\nag1\na.")
    expect(unpickle(p)).toEqual(["it's", 'café', true, 12, 0.25, "it's"])
  })

  it('decodes Python 2 str bytes as UTF-8, else Latin-1', () => {
    expect(unpickle(bytes('U', [2], [0xc3, 0xa9], '.'))).toBe('é')
    expect(unpickle(bytes('U', [1], [0xe9], '.'))).toBe('é')
  })

  it.each([
    ['GLOBAL (an object, never built)', bytes("cos\nsystem\n(S'echo'\ntR."), /opcode GLOBAL \(0x63\) is not supported/],
    ['REDUCE', bytes(']', ')', 'R', '.'), /opcode REDUCE/],
    ['an unknown opcode', bytes('{"a": 1}'), /byte 0: unknown opcode 0x7b/],
    ['a truncated string', bytes('X', [10, 0, 0, 0], 'abc'), /truncated/],
    ['a file that ends without STOP', bytes(']'), /truncated/],
    ['APPEND to a dict', bytes('}', 'K', [1], 'a', '.'), /APPEND to a dict/],
    ['a GET of a memo never stored', bytes('h', [7], '.'), /memo key 7/],
  ])('refuses %s', (_what, p, message) => {
    expect(() => unpickle(p)).toThrow(PickleError)
    expect(() => unpickle(p)).toThrow(message)
  })
})
