/**
 * An output folder that belongs to one configuration. `run.json` is written
 * before the first shard; a rerun with another configuration, model or getok
 * version is refused (naming what differs) unless the caller overwrites. The
 * version counts because a release may change which points a strategy picks:
 * a resumed run must not mix two selections in one folder. So do the units: run.json
 * holds a fingerprint of the run's images (or samples), since a finished shard is skipped
 * by its file name alone and would otherwise keep another selection's records.
 *
 * `--overwrite` on a folder of another configuration (or without run.json) removes everything an
 * earlier getok run wrote there (out-files.ts: every command's shards, journals, run.json,
 * manifest.json, eval.jsonl, summary.json, temporary files) and nothing else; on a folder of the same
 * configuration it resumes, but first drops finished shards whose bytes no longer match their .stats.json.
 *
 * Every command that writes a folder runs inside withOutFolder, which holds the folder's lock
 * (adapters/out-lock.ts) from before anything there is read or removed until the run ends, so claimRunDir,
 * claimFreshDir and --overwrite only ever see a folder no other live run is writing.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readFile, readdir, rm, rmdir} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError, showValue} from '../../core/errors.js'
import {verifiedShardStats, writeFileAtomic} from '../../adapters/shards.js'
import {lockFolder} from '../../adapters/out-lock.js'
import {TOOL} from '../../version.js'
import {BYTES_FREE, RECORDED_LATER, canonicalConfig, comparedValue, identifiedPath} from './run-settings.js'
import {
  RUN_FILE,
  checkOutFolder,
  getokFilesIn,
  isGetokTemporary,
  isLockFile,
  leftoversIn,
  makeOutFolder,
  shardOfStatsFile,
} from './out-files.js'

export {RUN_FILE}

/** run.json's field for unitsFingerprint: not in the manifest's config (merge joins workers of other units). */
export const UNITS_FIELD = 'images'

/**
 * What a run works on, as one short string for run.json: the count and a hash of each image's id
 * and its members in order (curate, offsets: annotation ids; eval: prediction lines).
 * `--image-ids`, `--limit`, `--categories`, a shard share or edited inputs change it; a resumed
 * run keeps it.
 */
export function unitsFingerprint(units: readonly (readonly [id: number, members: readonly number[]])[]): string {
  const hash = createHash('sha256')
  for (const [id, members] of units) hash.update(`${id}:${members.join(',')}\n`)
  return `${units.length} image${units.length === 1 ? '' : 's'}, sha256 ${hash.digest('hex').slice(0, 16)}`
}

/**
 * Run `run` holding the output folder `dir` for `command`: a path that cannot be a folder is refused
 * (makeOutFolder checks it first, before any input is read or SAM loaded), the folder is made if missing and locked
 * before anything in it is read or removed (a live run's lock: `--out, <dir>: in use by getok offsets
 * (pid …, since …); …`, nothing touched), then cleared of what killed runs left (out-files.ts
 * leftoversIn). The lock is released however `run` ends, and a folder this call made is removed again
 * when it is left empty (a run stopped by a bad input leaves no folder behind).
 */
export async function withOutFolder<T>(dir: string, command: string, run: () => Promise<T>): Promise<T> {
  const made = await makeOutFolder(dir)
  let lock
  try {
    lock = await lockFolder(dir, command)
  } catch (error) {
    await removeIfEmpty(dir, made)
    throw error instanceof GetokError ? error.at({flag: 'out'}) : error
  }
  try {
    for (const f of await leftoversIn(dir, await readdir(dir))) await rm(path.join(dir, f), {force: true})
    return await run()
  } finally {
    await lock.release()
    await removeIfEmpty(dir, made)
  }
}

/** `dir` and its parents up to `made` (the first folder makeOutFolder made), those left empty. */
async function removeIfEmpty(dir: string, made: string | undefined): Promise<void> {
  if (made === undefined) return
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const removed = await rmdir(at).then(
      () => true,
      () => false,
    )
    if (!removed || at === path.resolve(made) || path.dirname(at) === at) return
  }
}

export async function claimRunDir(
  dir: string,
  name: string,
  runConfig: Record<string, unknown>,
  overwrite: boolean,
  version = TOOL.version,
): Promise<void> {
  checkOutFolder(dir)
  const file = path.join(dir, RUN_FILE)
  const config: Record<string, unknown> = {tool_version: version, ...runConfig}
  const before = existsSync(file) ? await readRunFile(file, overwrite) : undefined
  const differs = (k: string) => !notCompared(k, before ?? {}, config) && comparedValue(before?.[k]) !== comparedValue(config[k])
  const diff = Object.keys({...before, ...config}).filter(differs)
  if (before && diff.length > 0 && !overwrite) throw differentConfiguration(file, before, config, diff)
  if (overwrite && (!before || diff.length > 0)) await clearRunDir(dir)
  else if (overwrite) await dropChangedShards(dir, name)
  await makeOutFolder(dir)
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n')
}

/**
 * Fields a resumed run may change (shared/run-settings.ts): settings that cannot change a record's bytes
 * (`--batch`), a path whose data both identify alike (the folder of `--curated`, by its records' hash),
 * and an identity a run.json written before it was recorded cannot say (the images, the curated hash):
 * such a folder resumes as before. `shard_size` is compared: the finished shards are cut by it.
 */
function notCompared(k: string, before: Config, config: Config): boolean {
  if (BYTES_FREE.includes(k) || identifiedPath(k, before, config)) return true
  return (k === UNITS_FIELD || RECORDED_LATER.includes(k)) && before[k] === undefined
}

/** run.json's configuration; one that does not parse is refused, or with --overwrite read as no configuration. */
async function readRunFile(file: string, overwrite: boolean): Promise<Record<string, unknown> | undefined> {
  try {
    return canonicalConfig(JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)
  } catch (error) {
    if (overwrite) return undefined
    throw new GetokError(`cannot read the output folder's configuration (${(error as Error).message}); use another --out or --overwrite`, {
      file,
    })
  }
}

type Config = Record<string, unknown>

function differentConfiguration(file: string, before: Config, config: Config, diff: string[]): GetokError {
  // another command's folder differs in every field: its command says it all (as export says it)
  if (diff.includes('command'))
    return new GetokError(
      "the output folder holds another command's output; use another --out or --overwrite",
      {file, field: 'command'},
      JSON.stringify(config.command),
      JSON.stringify(before.command),
    )
  // the images follow from the other fields (a split, --limit): named only when they alone differ
  const named = diff.length > 1 ? diff.filter((k) => k !== UNITS_FIELD) : diff
  const shown = named.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(config[k])}`).join('; ')
  const hint = diff.includes('shard_index')
    ? ' (each worker of a sharded run needs its own --out)'
    : diff.includes('tool_version')
      ? ' (another getok version may write other records; finish the run with the version that began it)'
      : named.includes(UNITS_FIELD)
        ? ' (the folder was begun on other images: --image-ids, --limit, --categories or the input files differ)'
        : named.length === 1 && named[0] === 'shard_size'
          ? shardSizeHint(before.shard_size)
          : named.includes('annotations_sha256')
            ? ' (the annotations file is not the one the folder was begun with: its records came from other annotations)'
            : ''
  return new GetokError(`output folder was made with a different configuration (${shown})${hint}; use another --out or --overwrite`, {file})
}

/** A finished shard is named and filled by the folder's cut: a resume must keep it (a shard of another cut would stay beside). */
function shardSizeHint(size: unknown): string {
  if (typeof size !== 'number') return ''
  return ` (its finished shards hold ${size} image${size === 1 ? '' : 's'} each: resume with --shard-size ${size})`
}

/** Everything an earlier getok run wrote in the folder (any command's), never another file. */
async function clearRunDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return
  for (const f of await getokFilesIn(dir, await readdir(dir))) await rm(path.join(dir, f), {force: true})
}

/** A resumed run under --overwrite: finished shards changed since they were written are removed, so they are redone. */
async function dropChangedShards(dir: string, name: string): Promise<void> {
  for (const f of await readdir(dir)) {
    const shard = shardOfStatsFile(f)
    if (!shard?.startsWith(`${name}-`)) continue
    const changed = await verifiedShardStats(dir, shard).then(
      () => false,
      (error: unknown) => error instanceof GetokError,
    )
    if (changed) await Promise.all([shard, f].map((g) => rm(path.join(dir, g), {force: true})))
  }
}

/**
 * What a one-shot command (export, merge) may find in its output folder: files of its own earlier
 * output (replaced: none is left beside the new one) and, unless it says otherwise, files of
 * nobody's (kept). Another command's output is never written over.
 */
export interface FreshDirPolicy {
  /** the command whose earlier output may be replaced; a manifest.json of any other command is refused */
  command?: string
  /** this command's own earlier output: removed before writing */
  own(file: string): boolean
  /** files nobody owns stop the claim unless `overwrite`; with it, they stay (default: they stay anyway) */
  refuseOthers?: {overwrite: boolean; expected: (file: string) => boolean}
}

export async function claimFreshDir(dir: string, policy: FreshDirPolicy): Promise<void> {
  checkOutFolder(dir)
  const present = existsSync(dir) ? await readdir(dir) : []
  const manifest = path.join(dir, 'manifest.json')
  if (policy.command && present.includes('manifest.json')) {
    const previous = await readFile(manifest, 'utf8').then(
      (t) => (JSON.parse(t) as {command?: unknown}).command,
      () => undefined,
    )
    if (previous !== policy.command) {
      throw new GetokError(
        "the output folder holds another command's output; choose another --out",
        {file: manifest, field: 'command'},
        JSON.stringify(policy.command) + ' or no manifest.json',
        showValue(previous),
      )
    }
  }
  const refuse = policy.refuseOthers
  const others = refuse ? present.filter((f) => !refuse.expected(f) && !isTemporary(f, policy) && !isLockFile(f)) : []
  if (refuse && others.length > 0 && !refuse.overwrite) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', …' : '')
    throw new GetokError(`output folder is not empty (has ${shown}); use another --out or --overwrite`, {file: dir})
  }
  const removed = present.filter((f) => !isLockFile(f) && (policy.own(f) || isTemporary(f, policy)))
  await Promise.all(removed.map((f) => rm(path.join(dir, f), {force: true})))
  await makeOutFolder(dir)
}

/** A file writeFileAtomic left behind when a run was killed mid-write, of a name getok (or this command) writes. */
const isTemporary = (f: string, policy: FreshDirPolicy) =>
  isGetokTemporary(f) || (/\.tmp-\d+$/.test(f) && policy.own(f.replace(/\.tmp-\d+$/, '')))
