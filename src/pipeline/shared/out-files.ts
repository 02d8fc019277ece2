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
 *   .getok.lock                                                          the run writing the folder now
 *
 * and in a folder whose manifest.json lists its files (merge, export), those files, with export's
 * vocab.txt, vocab.yaml and dataset_info.json. `.getok.lock` (adapters/out-lock.ts) is getok's but never
 * among the files a run removes: a run holds it before it removes anything, so the one found is its own.
 * What killed runs leave (leftoversIn) is removed by the next run once it holds the lock: the
 * `.tmp-<pid>` files of names getok writes (export's data files and inspect's PNGs among them: no live
 * process can be writing them) and the journal of a finished shard (a kill between its .stats.json and
 * the journal's removal).
 */
import {statSync} from 'node:fs'
import {mkdir, readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError, errorCode} from '../../core/errors.js'
import {EXPORT_FORMATS} from '../../core/export/trainer-formats.js'
import {LOCK_FILE} from '../../adapters/out-lock.js'

export const RUN_FILE = 'run.json'

const SHARD_FILE = /^(curate|offsets|eval)(-w\d{3,})?-\d{5,}-of-\d{5,}\.(jsonl|jsonl\.partial|journal|stats\.json)$/
const RUN_OUTPUTS = new Set([RUN_FILE, 'manifest.json', 'eval.jsonl', 'summary.json'])
const EXPORT_SIDE_FILES = ['vocab.txt', 'vocab.yaml', 'dataset_info.json']
/** export's data files (trainer-formats `dataFileName`: `swift-train.jsonl`, `llava-val.json`, …) */
const EXPORT_DATA_FILE = new RegExp(`^(${EXPORT_FORMATS.join('|')})-.+\\.jsonl?$`)
/** inspect's pictures (and contact sheets) */
const PICTURE_FILE = /\.png$/

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

/** The folder lock, or the name a run taking over a stale one moves it to for a moment (adapters/out-lock.ts). */
export function isLockFile(file: string): boolean {
  return withoutTmp(file) === LOCK_FILE
}

/** Of `present` (the folder's names), those an earlier getok run wrote there; never the lock. */
export async function getokFilesIn(dir: string, present: readonly string[]): Promise<string[]> {
  const listed = await manifestFiles(dir)
  return present.filter((f) => !isLockFile(f) && (isRunOutput(f) || listed.has(withoutTmp(f))))
}

/** Of `present`, what a killed getok run left that no run will use: see the header. */
export async function leftoversIn(dir: string, present: readonly string[]): Promise<string[]> {
  const listed = await manifestFiles(dir)
  const names = new Set(present)
  return present.filter((f) => isGetokTemporary(f, listed) || isFinishedJournal(f, names))
}

/** `<name>.tmp-<pid>` of a name getok writes (`listed`: the files the folder's manifest lists). */
export function isGetokTemporary(file: string, listed: ReadonlySet<string> = new Set()): boolean {
  const base = withoutTmp(file)
  if (base === file || base === LOCK_FILE) return false
  return isRunOutput(base) || listed.has(base) || EXPORT_SIDE_FILES.includes(base) || EXPORT_DATA_FILE.test(base) || PICTURE_FILE.test(base)
}

function isFinishedJournal(file: string, names: ReadonlySet<string>): boolean {
  if (!SHARD_FILE.test(file) || !file.endsWith('.journal')) return false
  return names.has(file.replace(/\.journal$/, '.jsonl')) && names.has(file.replace(/\.journal$/, '.stats.json'))
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

/**
 * `dir` as a folder that exists, made with its parents when missing: the first folder made, if any.
 * Throws a GetokError naming `flag`.
 */
export async function makeOutFolder(dir: string, flag = 'out'): Promise<string | undefined> {
  checkOutFolder(dir, flag)
  try {
    return await mkdir(dir, {recursive: true})
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
  if (found !== null && found !== path.resolve(file) && found !== folder && !statSync(found).isDirectory())
    throw new GetokError(`${found} is a file, not a folder`, {flag, file})
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
