/**
 * What `getok merge` checks before it copies a byte (see merge-run.ts for the list): each input's
 * manifest, that they are the workers of one run, each worker once, complete shard lists, and
 * each shard's size, checksum and record count.
 */
import {existsSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {createHash} from 'node:crypto'
import * as path from 'node:path'
import {readUtf8File} from '../../adapters/text-file.js'
import {GetokError} from '../../core/errors.js'
import type {Manifest} from '../shared/sharded-run.js'
import {BYTES_FREE, CUT, PATH_IDENTITY, canonicalConfig, identifiedPath} from '../shared/run-settings.js'

/** One input folder and its manifest. */
export interface Part {
  dir: string
  manifest: Manifest
}

/** Commands whose output merge joins. */
export const MERGEABLE = ['curate', 'offsets']

const SHARD_NAME = /-(\d{5})-of-(\d{5})\.jsonl$/

/** A worker folder's manifest, checked for the fields merge relies on. */
export async function readPart(dir: string): Promise<Part> {
  if (!existsSync(dir)) throw new GetokError('input folder not found', {file: dir})
  if (!statSync(dir).isDirectory())
    throw new GetokError(
      "a file, not a folder: merge takes the workers' output folders (each holding its manifest.json)",
      {file: dir},
      path.basename(dir) === 'manifest.json' ? `its folder, ${path.dirname(dir)}` : undefined,
    )
  const file = path.join(dir, 'manifest.json')
  if (!existsSync(file))
    throw new GetokError('no manifest.json: this run has not finished (rerun its command to resume it, then merge)', {file: dir})
  let manifest: Manifest
  try {
    manifest = JSON.parse(await readUtf8File(file)) as Manifest
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`manifest.json is not valid JSON (${(error as Error).message})`, {file})
  }
  for (const [field, ok] of [
    ['command', typeof manifest?.command === 'string' && MERGEABLE.includes(manifest.command)],
    ['config', typeof manifest?.config === 'object' && manifest.config !== null],
    ['shards', Array.isArray(manifest?.shards)],
    ['skips', Array.isArray(manifest?.skips)],
  ] as const) {
    if (!ok)
      throw new GetokError(
        'not a getok manifest',
        {file, field},
        field === 'command' ? `one of ${MERGEABLE.join(', ')}` : 'the field',
        JSON.stringify((manifest as unknown as Record<string, unknown>)?.[field])?.slice(0, 60),
      )
  }
  // a folder begun by getok ≤ 0.4.0 spells some curate settings otherwise: merged under today's names
  return {dir, manifest: {...manifest, config: canonicalConfig(manifest.config)}}
}

export function checkDistinctFolders(parts: readonly Part[], out: string): void {
  const seen = new Map<string, string>()
  for (const {dir} of parts) {
    const key = path.resolve(dir)
    if (key === path.resolve(out)) throw new GetokError('--out is one of the input folders', {file: out}, 'a separate folder')
    if (seen.has(key)) throw new GetokError('the same folder is given twice', {file: dir})
    seen.set(key, dir)
  }
}

/**
 * Config fields that may differ between inputs: they cannot change a record's bytes (shared/run-settings.ts).
 * `batch` is how many prompts share a decoder run, and a prompt's masks do not depend on its run
 * (bit-identical on the CPU; docs/scale.md); `shard_size` only cuts the records into files, which merge
 * copies as they are. Threads, workers and device are not in the config at all.
 */
export const FREE: readonly string[] = [...BYTES_FREE, ...CUT]

/**
 * FREE, and the paths every input identifies by their data (`curated`, by `curated_sha256`): workers that
 * read the same curated records from other folders (another machine, a relative path) agree on the hash.
 */
export function freeFields(parts: readonly Part[]): string[] {
  const configs = parts.map((p) => p.manifest.config)
  return [...FREE, ...Object.keys(PATH_IDENTITY).filter((k) => identifiedPath(k, ...configs))]
}

/**
 * The fields that must agree, flattened with their names, most decisive first: command, tool.version,
 * model.name, model.hash, then config.*. Settings that cannot change a record's bytes are left out (`free`).
 */
function runIdentity(m: Manifest, free: readonly string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    command: m.command,
    'tool.version': m.tool?.version,
    'model.name': m.model?.name,
    'model.hash': m.model?.hash,
  }
  // runs over disjoint images (not workers of one split) each count their own images, maybe from their own file
  const perRun = (k: string) => (k === 'annotations_images' || k === 'annotations_sha256') && m.config.shard_count === undefined
  const own = (k: string) => k === 'shard_index' || free.includes(k) || perRun(k)
  for (const [k, v] of Object.entries(m.config)) if (!own(k)) fields[`config.${k}`] = v
  return fields
}

// config.model repeats the model: its difference is named once, as model.*; a worker among unsharded
// runs (or of another split) differs in what each counts as well, annotations_images: name the split
const DECISIVE = [['command'], ['tool.version'], ['model.name', 'model.hash'], ['config.shard_count']]

/** Another command, version, model or split makes every other difference noise: it is named alone, the rest only when those agree. */
export function checkSameRun(parts: readonly Part[]): void {
  const [ref, ...rest] = parts
  const free = freeFields(parts)
  const want = runIdentity(ref.manifest, free)
  for (const part of rest) {
    const got = runIdentity(part.manifest, free)
    const all = Object.keys({...want, ...got}).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(got[k]))
    if (all.length === 0) continue
    const decisive = DECISIVE.map((tier) => tier.filter((k) => all.includes(k))).find((tier) => tier.length > 0)
    const diff = decisive ?? all
    const shown = diff.map((k) => `${k} is ${JSON.stringify(want[k])} in ${ref.dir} but ${JSON.stringify(got[k])} here`).join('; ')
    throw new GetokError(`not the same run: ${shown}`, {file: part.dir, field: diff[0]})
  }
}

/** With shard_count N, workers 0 … N−1 each exactly once. */
export function checkWorkers(parts: readonly Part[]): void {
  const count = parts[0].manifest.config.shard_count
  if (count === undefined) return // unsharded runs: only the duplicate checks apply
  const byIndex = new Map<number, string>()
  for (const {dir, manifest} of parts) {
    const index = manifest.config.shard_index as number
    if (byIndex.has(index))
      throw new GetokError(`worker ${index} of ${count} is given twice (also ${byIndex.get(index)})`, {file: dir, field: 'shard_index'})
    byIndex.set(index, dir)
  }
  const missing = Array.from({length: count as number}, (_, i) => i).filter((i) => !byIndex.has(i))
  if (missing.length > 0) {
    throw new GetokError(
      `missing worker${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count}: ` +
        `merge needs the folder of every worker (--shard-count ${count})`,
      {field: 'shard_index'},
    )
  }
}

/** A manifest lists shards k-of-K for every k < K, once each. */
export function checkShardList({dir, manifest}: Part): void {
  const file = path.join(dir, 'manifest.json')
  const found = manifest.shards.map((s) => SHARD_NAME.exec(String(s?.file)))
  const bad = found.findIndex((m) => !m)
  if (bad >= 0)
    throw new GetokError(
      'not a shard file name',
      {file, record: `shards[${bad}]`, field: 'file'},
      '<name>-00000-of-00008.jsonl',
      JSON.stringify(manifest.shards[bad]?.file),
    )
  const total = found.length > 0 ? Number(found[0]![2]) : 0
  const have = new Set(found.map((m) => Number(m![1])))
  const missing = Array.from({length: total}, (_, k) => k).filter((k) => !have.has(k))
  if (missing.length > 0 || found.length !== total || found.some((m) => Number(m![2]) !== total)) {
    throw new GetokError(
      `incomplete shard list: ${found.length} listed of ${total}${missing.length ? `, missing shard ${missing.join(', ')}` : ''}`,
      {file, field: 'shards'},
    )
  }
}

export async function readVerifiedShard(dir: string, shard: Manifest['shards'][number]): Promise<Buffer> {
  const file = path.join(dir, shard.file)
  if (!existsSync(file)) throw new GetokError('shard listed in manifest.json is missing', {file})
  const bytes = await readFile(file)
  if (bytes.length !== shard.bytes)
    throw new GetokError(
      'shard size differs from manifest.json (truncated or changed?)',
      {file, field: 'bytes'},
      `${shard.bytes} bytes`,
      `${bytes.length}`,
    )
  const sha = createHash('sha256').update(bytes).digest('hex')
  if (sha !== shard.sha256)
    throw new GetokError('shard checksum differs from manifest.json (changed after the run?)', {file, field: 'sha256'}, shard.sha256, sha)
  const lines = bytes.reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0)
  if (lines !== shard.records)
    throw new GetokError('shard record count differs from manifest.json', {file, field: 'records'}, String(shard.records), String(lines))
  return bytes
}
