import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, describe, expect, it, vi} from 'vitest'
import Vocab, {type VocabResult} from '../../commands/vocab.js'
import {vocabulary} from '../../src/core/grid/tokens.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const tmp = mkdtempSync(path.join(tmpdir(), 'getok-vocab-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

async function vocab(args: string[]): Promise<VocabResult> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    return (await Vocab.run(args, ROOT)) as VocabResult
  } finally {
    log.mockRestore()
  }
}

describe('getok vocab', () => {
  it('writes the 1034 tokens of n = 32 one per line (ms-swift --new_special_tokens)', async () => {
    const out = path.join(tmp, 'vocab.txt')
    const r = await vocab(['--grid', '32', '-o', out])
    expect(r).toEqual({grid: 32, token_style: 'plain', format: 'list', tags: false, count: 1034, out})
    expect(readFileSync(out, 'utf8').split(/\s+/).filter(Boolean)).toEqual(vocabulary(32))
  })

  it("writes LLaMA-Factory's new_special_tokens_config YAML with the tags", async () => {
    const out = path.join(tmp, 'tokens.yaml')
    const r = await vocab(['--grid', '16', '--format', 'llamafactory', '--tags', '--token-style', 'paper', '-o', out])
    expect(r.count).toBe(256 + 10 + 8)
    const text = readFileSync(out, 'utf8')
    expect(text).toContain('"<grid_{3,12}>": "grid cell column 3 row 12"\n')
    expect(text).toContain('"</offset>": "end of offset refinement"\n')
  })

  it('writes JSON', async () => {
    const out = path.join(tmp, 'v.json')
    await vocab(['--grid', '64', '--format', 'json', '-o', out])
    const doc = JSON.parse(readFileSync(out, 'utf8'))
    expect(doc.count).toBe(4106)
    expect(doc.tokens[4105]).toEqual({token: '<DELETE>', kind: 'delete', description: 'delete this grid cell from the previous answer'})
  })

  // Before, `vocab --json` without -o printed the counts and "out": null: the vocabulary went nowhere
  it('with --json and no -o, puts the tokens in the result, and stdout holds that JSON alone', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/run.js'), 'vocab', '--grid', '16', '--tags', '--json'], {encoding: 'utf8'})
    expect(r.status).toBe(0)
    const result = JSON.parse(r.stdout) as VocabResult
    expect(result).toMatchObject({grid: 16, count: 256 + 10 + 8, out: null})
    expect(result.tokens).toEqual([...vocabulary(16), '<box>', '</box>', '<seg>', '</seg>', '<pl>', '</pl>', '<offset>', '</offset>'])
  })

  it('with -o, the result names the file and carries no tokens', async () => {
    const r = await vocab(['--grid', '16', '--json', '-o', path.join(tmp, 'v16.txt')])
    expect(r.tokens).toBeUndefined()
  })

  it('refuses an unknown format', async () => {
    await expect(vocab(['--format', 'yaml'])).rejects.toThrow(/^--format: bad value: expected one of list, llamafactory, json, got "yaml"$/)
  })
})
