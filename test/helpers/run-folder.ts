import {readFileSync, readdirSync} from 'node:fs'
import * as path from 'node:path'

/** What a run folder holds, read as a test compares it: its manifest, and its shards by name. */
export const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))

/** [file name, text] of every .jsonl in `dir`, by name: equal lists mean the same shards, byte for byte */
export const shardTexts = (dir: string): [string, string][] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')])
