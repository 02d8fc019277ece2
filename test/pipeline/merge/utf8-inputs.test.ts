import {createHash} from 'node:crypto'
import {cpSync, existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {runMerge} from '../../../src/pipeline/merge/merge-run.js'
import {latin1E, placeOfE9} from '../../helpers/latin1.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// merge reads each shard's records (ids, summary) from the verified bytes it copies: a shard that is not
// UTF-8 stops it, naming the shard and the line, before that shard or the manifest is written.
const OFFSETS = 'fixtures/offsets-sample'
const SHARD = 'offsets-00000-of-00001.jsonl'

const tmp = tempDirs('getok-merge-utf8')

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const message = (file: string, bytes: Buffer) =>
  new RegExp(`^${escape(file)}: invalid UTF-8 at ${escape(placeOfE9(bytes))}: bytes 0xe9 0x\\w\\w do not form a character; save`)

describe('getok merge refuses text that is not UTF-8', () => {
  it('a shard whose manifest lists its bytes (size and sha256 match): stops naming the shard and line; nothing is written', async () => {
    const part = path.join(tmp(), 'w0')
    cpSync(OFFSETS, part, {recursive: true})
    const shard = path.join(part, SHARD)
    const bytes = latin1E(readFileSync(shard, 'utf8').replace('"category":"cat"', '"category":"caté"'))
    writeFileSync(shard, bytes)
    const manifest = JSON.parse(readFileSync(path.join(part, 'manifest.json'), 'utf8'))
    manifest.shards[0] = {...manifest.shards[0], bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex')}
    writeFileSync(path.join(part, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    expect(placeOfE9(bytes)).toMatch(/^line 2,/)
    const out = path.join(tmp(), 'out')
    await expect(runMerge({dirs: [part], out, overwrite: false})).rejects.toThrow(message(shard, bytes))
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([])
  })

  it("a worker's manifest.json", async () => {
    const part = path.join(tmp(), 'w0')
    cpSync(OFFSETS, part, {recursive: true})
    const file = path.join(part, 'manifest.json')
    const bytes = latin1E(readFileSync(file, 'utf8').replace('"ties": "axis-first"', '"ties": "axis-firsté"'))
    writeFileSync(file, bytes)
    const out = path.join(tmp(), 'out')
    await expect(runMerge({dirs: [part], out, overwrite: false})).rejects.toThrow(message(file, bytes))
    expect(existsSync(out)).toBe(false)
  })
})
