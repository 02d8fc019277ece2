import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'
import {readExpressionFile, readExpressionsJsonl, readRefsPickle} from '../../src/adapters/refs.js'
import {GetokError} from '../../src/core/errors.js'

const REFEXP = fileURLToPath(new URL('../../fixtures/refexp', import.meta.url))
const REFS = path.join(REFEXP, 'refs(umd).p')
const tmp = mkdtempSync(path.join(tmpdir(), 'getok-refs-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))
const write = (name: string, text: string | Uint8Array) => {
  const file = path.join(tmp, name)
  writeFileSync(file, text)
  return file
}

describe('readRefsPickle on the real RefCOCOg (umd) file', () => {
  it("gives one expression per sentence, 28, with the ref's annotation, image and split", async () => {
    const ex = await readRefsPickle(REFS)
    expect(ex.length).toBe(28)
    expect(new Set(ex.map((e) => e.annId)).size).toBe(15)
    const splits: Record<string, number> = {}
    for (const e of ex) splits[e.split as string] = (splits[e.split as string] ?? 0) + 1
    expect(Object.keys(splits).sort()).toEqual(['test', 'train', 'val'])
    expect(ex[1]).toEqual({
      annId: 251837,
      imageId: 122469,
      expression: 'a woman wearing black dress',
      split: 'train',
      refId: 40373,
      sentId: 91982,
    })
    // "sent" (the toolkit's normalised text) is used, not "raw"
    expect(ex[0].expression).toBe('a smiling woman wearing a black dress with a plaid bow on it . she is wearing ear rings and a watch')
    expect(ex.find((e) => e.annId === 587134)?.expression).toBe('polar bear on right')
  })

  it('says which file does not parse and why', async () => {
    const notPickle = path.join(REFEXP, 'refcocos-test.jsonl')
    await expect(readRefsPickle(notPickle)).rejects.toThrow(GetokError)
    await expect(readRefsPickle(notPickle)).rejects.toThrow(/refcocos-test\.jsonl: refs file does not parse: pickle byte 0: unknown opcode/)
    const dict = write('dict.p', Uint8Array.from([0x7d, 0x2e])) // {} .
    await expect(readRefsPickle(dict)).rejects.toThrow(/not a list of refs/)
    const noAnn = write('noann.p', Uint8Array.from([0x5d, 0x7d, 0x61, 0x2e])) // [{}]
    await expect(readRefsPickle(noAnn)).rejects.toThrow(/ref 0, field "ann_id": bad ann_id: expected an integer, got nothing/)
    await expect(readRefsPickle(path.join(tmp, 'missing.p'))).rejects.toThrow(/cannot read the expressions file \(ENOENT\)/)
  })
})

describe('readExpressionsJsonl', () => {
  it('reads the real RefCOCOS pairs', async () => {
    const {source, expressions} = await readExpressionFile(path.join(REFEXP, 'refcocos-test.jsonl'), 'jsonl')
    expect(source).toBe('jsonl')
    expect(expressions.length).toBe(8)
    expect(expressions.find((e) => e.annId === 489768)).toEqual({
      annId: 489768,
      imageId: 252219,
      expression: 'the person walking not beneath an umbrella',
      split: 'test',
    })
  })

  it.each([
    ['{"ann_id": 1, "expression": "x"}\nnot json\n', /line 2: invalid JSON/],
    ['{"ann_id": "1", "expression": "x"}\n', /line 1, field "ann_id": bad annotation id: expected an integer, got "1"/],
    ['{"ann_id": 1, "expression": ""}\n', /field "expression": bad expression/],
    ['{"ann_id": 1, "expression": "x", "split": 3}\n', /field "split"/],
    ['\n\n', /no expressions in the file/],
  ])('names the line and field of %j', async (text, message) => {
    await expect(readExpressionsJsonl(write('bad.jsonl', text))).rejects.toThrow(message)
  })
})
