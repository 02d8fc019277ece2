import {cpSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {runOffsets} from '../../../src/pipeline/offsets/offsets-run.js'
import {latin1E, placeOfE9} from '../../helpers/latin1.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// offsets --curated joins curate records by annotation id: a shard there that is not UTF-8 stops the run
// before its output folder is made, naming the shard and the line.
const CURATED = 'fixtures/curated-sample'
const SHARD = 'curate-00000-of-00001.jsonl'

const tmp = tempDirs('getok-offsets-utf8')

describe('getok offsets refuses text that is not UTF-8', () => {
  it('a --curated shard: stops naming the shard and line; nothing is written', async () => {
    const dir = tmp()
    const curated = path.join(dir, 'curated')
    cpSync(CURATED, curated, {recursive: true})
    const shard = path.join(curated, SHARD)
    const bytes = latin1E(readFileSync(shard, 'utf8').replace('"category":"cat"', '"category":"caté"'))
    writeFileSync(shard, bytes)
    const out = path.join(dir, 'out')
    const options = {
      grid: 16,
      k: 12,
      quotas: {mode: 'fractions', values: {ring: 0.5, inside: 0.25, hard_delete: 0.15, far: 0.1}},
      hardBand: 2,
      seed: 0,
      flipV: false,
      ties: 'axis-first',
      tokenStyle: 'plain',
      includeCrowd: false,
    } as const
    const run = runOffsets({
      annotations: 'fixtures/sample/instances.json',
      out,
      curated,
      options,
      filter: {},
      shardSize: 1000,
      strict: false,
      overwrite: false,
    })
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    expect(placeOfE9(bytes)).toMatch(/^line 2,/)
    await expect(run).rejects.toThrow(new RegExp(`^${escape(shard)}: invalid UTF-8 at ${escape(placeOfE9(bytes))}: bytes 0xe9 0x22 `))
    expect(existsSync(out)).toBe(false)
  })
})
