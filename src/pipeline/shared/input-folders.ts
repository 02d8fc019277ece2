/**
 * Folders a run reads that another getok run wrote: export's --curated and --offsets, offsets' --curated,
 * eval's --curated and --reference, inspect's records and --eval, merge's inputs.
 *
 * - Being written: a live run's `.getok.lock` there (adapters/out-lock.ts readerRefusal) stops the reader
 *   before it reads anything: `--curated, out/cur: being written by getok curate (pid 4242, since 12:01:02);
 *   wait for it to finish, then rerun`. A stale lock is left as it is: a reader writes nothing in its inputs.
 * - Edited: a shard whose bytes are not those its manifest lists (`sha256`, `bytes`) is read all the same,
 *   with a warning (a curate folder edited by hand is supported, docs/offsets.md), said once on stderr as found
 *   and kept in the run's --json result and output manifest as `warnings`:
 *   `out/cur/curate-00000-of-00001.jsonl: not the bytes its manifest lists (12 records, sha256 d2b083f3… → 3ab1c0de…);
 *   edited since curate wrote it?`. A manifest without `sha256` (older getok) checks nothing.
 */
import {createHash} from 'node:crypto'
import {existsSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {readerRefusal} from '../../adapters/out-lock.js'

/** Where a run's warnings go as they are found (a command: a line on stderr). */
export type Warn = (line: string) => void

/** A path a run reads (a folder, or a file there: its folder's lock counts) and the flag that named it. */
export interface InputPath {
  path: string | undefined
  flag?: string
}

/** The first input a live run is writing stops the run (exit 2), before any of them is read. */
export async function refuseFoldersBeingWritten(inputs: readonly InputPath[]): Promise<void> {
  for (const {path: p, flag} of inputs) {
    if (p === undefined) continue
    const dir = existsSync(p) && statSync(p).isFile() ? path.dirname(p) : p
    const refusal = await readerRefusal(dir)
    if (refusal) throw refusal.at(flag ? {flag} : {})
  }
}

/** A run's warnings: each said once, as found, and kept for its result and manifest. */
export class Warnings {
  private readonly lines: string[] = []
  constructor(private readonly say: Warn = () => {}) {}

  readonly add = (line: string): void => {
    if (this.lines.includes(line)) return
    this.lines.push(line)
    this.say(line)
  }

  /** `{warnings: […]}` for a result or a manifest where there are some; `{}` where there are none. */
  field(): {warnings?: string[]} {
    return this.lines.length > 0 ? {warnings: [...this.lines]} : {}
  }
}

/** What a manifest lists of a shard (`shards[]`); older manifests may lack fields. */
export interface ListedShard {
  file?: unknown
  records?: unknown
  bytes?: unknown
  sha256?: unknown
}

export interface ShardBytes {
  bytes: number
  sha256: string
}

export const shardBytes = (bytes: Buffer): ShardBytes => ({bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex')})

/** The warning for a shard whose bytes are not those its manifest lists; undefined where they are, or nothing to compare. */
export function changedShardWarning(file: string, listed: ListedShard, got: ShardBytes, command: string): string | undefined {
  if (typeof listed.sha256 !== 'string') return undefined
  const sizeDiffers = typeof listed.bytes === 'number' && listed.bytes !== got.bytes
  if (listed.sha256 === got.sha256 && !sizeDiffers) return undefined
  const records = typeof listed.records === 'number' ? `${listed.records} records, ` : ''
  const [was, now] = sizeDiffers ? [`${listed.bytes} bytes, sha256 `, `${got.bytes} bytes, sha256 `] : ['sha256 ', '']
  const change = `${records}${was}${listed.sha256.slice(0, 8)}… → ${now}${got.sha256.slice(0, 8)}…`
  return `${file}: not the bytes its manifest lists (${change}); edited since ${command} wrote it?`
}

/** Tells `warn` (if any) when a shard's bytes, as read, are not those its manifest lists. */
export function warnIfChanged(file: string, listed: ListedShard, bytes: Buffer, command: string, warn?: Warn): void {
  const line = warn && changedShardWarning(file, listed, shardBytes(bytes), command)
  if (line) warn(line)
}

/**
 * Shards read without their manifest (offsets --curated reads a curate folder's shards by name), checked against
 * the folder's manifest.json where it has one: `seen` is each shard's bytes by file name, as the reader hashed them.
 */
export async function checkAgainstManifest(dir: string, seen: ReadonlyMap<string, ShardBytes>, warn: Warn): Promise<void> {
  const manifest = await readFile(path.join(dir, 'manifest.json'), 'utf8').then(
    (text) => JSON.parse(text) as {command?: unknown; shards?: unknown},
    () => undefined, // none, or not one getok wrote whole: nothing to compare
  )
  if (!manifest || !Array.isArray(manifest.shards)) return
  for (const listed of manifest.shards as ListedShard[]) {
    const got = seen.get(String(listed?.file))
    const line = got && changedShardWarning(path.join(dir, String(listed.file)), listed, got, String(manifest.command))
    if (line) warn(line)
  }
}
