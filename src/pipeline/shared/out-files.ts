/**
 * What getok writes in an output folder, by name, so that `--overwrite` removes all of it and never
 * a file of the user's; and the checks that an output path can be written at all, so that a file
 * where a folder should be is one line naming the flag, not Node's EEXIST or ENOTDIR.
 *
 *   curate-00000-of-00002.jsonl, .stats.json, .jsonl.partial, .journal   curate, offsets and eval shards
 *   curate-w003-00000-of-00002.jsonl, …                                  a worker's shards (--shard-index)
 *   run.json, manifest.json                                              every run (merge and export: the manifest)
 *   eval.jsonl, summary.json                                             eval
 *   <any of these>.tmp-<pid>                                             writeFileAtomic, killed mid-write
 *
 * and in a folder whose manifest.json lists its files (merge, export), those files, with export's
 * vocab.txt, vocab.yaml and dataset_info.json.
 */
import {statSync} from 'node:fs'
import {mkdir, readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError} from '../../core/errors.js'

export const RUN_FILE = 'run.json'

const SHARD_FILE = /^(curate|offsets|eval)(-w\d{3,})?-\d{5,}-of-\d{5,}\.(jsonl|jsonl\.partial|journal|stats\.json)$/
const RUN_OUTPUTS = new Set([RUN_FILE, 'manifest.json', 'eval.jsonl', 'summary.json'])
const EXPORT_SIDE_FILES = ['vocab.txt', 'vocab.yaml', 'dataset_info.json']

/** The name a temporary file of writeFileAtomic will have once renamed; other names unchanged. */
const withoutTmp = (f: string) => f.replace(/\.tmp-\d+$/, '')

/** A file a curate, offsets or eval run writes (or merges), by its name alone. */
export function isRunOutput(file: string): boolean {
  const base = withoutTmp(file)
  return SHARD_FILE.test(base) || RUN_OUTPUTS.has(base)
}

/** A finished shard's stats file: `curate-00000-of-00002.stats.json` → its shard's name. */
export function shardOfStatsFile(file: string): string | null {
  return SHARD_FILE.test(file) && file.endsWith('.stats.json') ? file.replace(/\.stats\.json$/, '.jsonl') : null
}

/** Of `present` (the folder's names), those an earlier getok run wrote there. */
export async function getokFilesIn(dir: string, present: readonly string[]): Promise<string[]> {
  const listed = await manifestFiles(dir)
  return present.filter((f) => isRunOutput(f) || listed.has(withoutTmp(f)))
}

/** The files the folder's manifest.json lists (shards, export's data files and vocab files); none when it has none. */
async function manifestFiles(dir: string): Promise<Set<string>> {
  let manifest: {command?: unknown; shards?: unknown}
  try {
    manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as typeof manifest
  } catch {
    return new Set()
  }
  const shards = Array.isArray(manifest?.shards) ? (manifest.shards as {file?: unknown}[]) : []
  const files = shards.flatMap((s) => (typeof s?.file === 'string' ? [path.basename(s.file)] : []))
  return new Set([...files, ...(manifest?.command === 'export' ? EXPORT_SIDE_FILES : [])])
}

/** `dir` as a folder that exists, made with its parents when missing. Throws a GetokError naming `flag`. */
export async function makeOutFolder(dir: string, flag = 'out'): Promise<void> {
  checkOutFolder(dir, flag)
  try {
    await mkdir(dir, {recursive: true})
  } catch (error) {
    throw new GetokError(`cannot make the folder (${errorCode(error)})`, {flag, file: dir})
  }
}

/** Throws when `dir` is a file, or when a file stands where one of its parent folders would be made. */
export function checkOutFolder(dir: string, flag = 'out'): void {
  const target = path.resolve(dir)
  const found = nearestExisting(target, flag, dir)
  if (found === null || statSync(found).isDirectory()) return
  const what = found === target ? 'not a folder: a file of that name exists' : `not a folder: ${found} is a file`
  throw new GetokError(what, {flag, file: dir})
}

/** A file path to write: its folder must exist, and it must not be a folder itself. Throws a GetokError naming `flag`. */
export function checkOutFile(file: string, flag = 'out'): void {
  const folder = path.dirname(path.resolve(file))
  const found = nearestExisting(path.resolve(file), flag, file)
  if (found === path.resolve(file) && statSync(found).isDirectory()) throw new GetokError('is a folder: expected a file name', {flag, file})
  if (found !== path.resolve(file) && found !== folder) throw new GetokError(`folder ${folder} does not exist`, {flag, file})
  if (found === folder && !statSync(folder).isDirectory()) throw new GetokError(`${folder} is a file, not a folder`, {flag, file})
}

/** `p` or its nearest ancestor that exists (null if none does). */
function nearestExisting(p: string, flag: string, given: string): string | null {
  for (let at = p; ; at = path.dirname(at)) {
    try {
      statSync(at)
      return at
    } catch (error) {
      const code = errorCode(error)
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new GetokError(`cannot use this path (${code})`, {flag, file: given})
      if (path.dirname(at) === at) return null
    }
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message
}
