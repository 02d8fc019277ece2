import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {readJsonl} from '../../src/adapters/jsonl.js'
import {readUtf8File} from '../../src/adapters/text-file.js'
import {GetokError} from '../../src/core/errors.js'
import {latin1E, placeOfE9} from '../helpers/latin1.js'

const dir = mkdtempSync(path.join(tmpdir(), 'getok-jsonl-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const write = (name: string, bytes: string | Buffer) => {
  const file = path.join(dir, name)
  writeFileSync(file, bytes)
  return file
}

describe('readJsonl reads UTF-8 only', () => {
  it('refuses a Latin-1 byte, naming the file, line, column and byte, instead of reading U+FFFD', async () => {
    const bytes = latin1E('{"ann_id": 1, "expression": "the cat"}\n{"ann_id": 2, "expression": "the café"}\n')
    const file = write('latin1.jsonl', bytes)
    const error = await readJsonl(file).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(GetokError)
    expect((error as GetokError).message).toBe(
      `${file}: invalid UTF-8 at line 2, column 37 (byte 75): bytes 0xe9 0x22 do not form a character; save the file as UTF-8`,
    )
    expect(placeOfE9(bytes)).toBe('line 2, column 37 (byte 75)')
  })

  it('refuses a file cut inside a character', async () => {
    const cut = Buffer.from('{"a": "ok"}\n{"a": "✓"}\n').subarray(0, 21) // ✓ is e2 9c 93: keep e2 9c
    await expect(readJsonl(write('cut.jsonl', cut))).rejects.toThrow(
      /cut\.jsonl: invalid UTF-8 at line 2, column 8 \(byte 19\): bytes 0xe2 0x9c /,
    )
  })

  it('a journal cut by a crash inside a character stops before that line, as at any cut line', async () => {
    const cut = Buffer.from('{"unit": 1}\n{"unit": 2, "reason": "café"}\n').subarray(0, -4)
    expect(await readJsonl(write('t.journal', cut), {stopAtBroken: true})).toEqual([{value: {unit: 1}, line: 1}])
  })

  it('valid files read as before: a byte-order mark skipped, other characters kept', async () => {
    const file = write('bom.jsonl', '\ufeff{"e": "café ✓"}\n\n{"e": 2}\n')
    expect(await readJsonl(file)).toEqual([
      {value: {e: 'café ✓'}, line: 1},
      {value: {e: 2}, line: 3},
    ])
    expect(await readUtf8File(file)).toBe('\ufeff{"e": "café ✓"}\n\n{"e": 2}\n')
  })
})
