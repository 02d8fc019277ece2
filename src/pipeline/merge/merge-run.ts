/**
 * `getok merge`: join the output folders of the workers of one sharded run
 * (`--shard-index i --shard-count N`, one --out each) into one folder that holds
 * what a single run over all images would have written.
 *
 * Each check refuses with a message naming the folder and the field:
 *   - no input is being written (a live run's .getok.lock there: shared/input-folders.ts);
 *   - every input has a manifest.json (a worker that has not finished has none);
 *   - the same command, tool version, model (name and hash) and configuration
 *     (every field but shard_index and the FREE ones, which cannot change a record,
 *     and paths identified by their data's hash: config.curated by curated_sha256)
 *     everywhere; the first of these that differs is named alone;
 *   - with shard_count N: workers 0 … N−1 each given exactly once;
 *   - every shard a manifest lists is there, complete (k-of-K, none missing),
 *     with the listed byte count, sha256 and record count;
 *   - no image id and no annotation id in two inputs (records and skips).
 * Then the shards are copied from the verified bytes, renamed into one numbering
 * (`curate-00000-of-00048.jsonl`, workers in index order; the manifest's
 * `shards[].from` says where each came from), and manifest.json is written last, with the
 * union of the skips and the statistics recomputed over all records in
 * image-id order: the summary one uninterrupted run reports.
 */
import {existsSync} from 'node:fs'
import * as path from 'node:path'
import {GetokError} from '../../core/errors.js'
import {type RecordLike, curateSummaryFields, summarise} from '../../core/stats.js'
import {type Skip, shardFileName, writeFileAtomic} from '../../adapters/shards.js'
import {parseJsonl} from '../../adapters/jsonl.js'
import {utf8Text} from '../../adapters/text-file.js'
import {claimFreshDir, withOutFolder} from '../shared/out-dir.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {RUN_FILE, isRunOutput} from '../shared/out-files.js'
import {type OffsetsRecord, summariseOffsets} from '../offsets/offsets-object.js'
import {type Manifest, writeManifest} from '../shared/sharded-run.js'
import {refuseFoldersBeingWritten} from '../shared/input-folders.js'
import {
  type Part,
  checkDistinctFolders,
  checkSameRun,
  checkShardList,
  checkWorkers,
  freeFields,
  readPart,
  readVerifiedShard,
} from './merge-checks.js'

export interface MergeInput {
  dirs: string[]
  out: string
  overwrite: boolean
  /** one tick per shard verified and copied (hundreds of shards take a while to hash) */
  progress?: Progress
}

export interface MergeResult {
  out: string
  manifest: string
  command: string
  workers: number
  shards: number
  records: number
  skipped: number
  summary: unknown
}

/** What merge keeps of a record: its ids, and what the summary needs. */
interface LightRecord {
  image_id: number
  ann_id: number
  summary: unknown
}

export async function runMerge(input: MergeInput): Promise<MergeResult> {
  if (input.dirs.length === 0) throw new GetokError('nothing to merge', {}, 'one or more output folders')
  // a worker still writing its folder (rerun to resume it, say) stops the merge before a byte is read
  await refuseFoldersBeingWritten(input.dirs.map((dir) => ({path: dir})))
  return withOutFolder(input.out, 'merge', () => mergeHeld(input))
}

async function mergeHeld(input: MergeInput): Promise<MergeResult> {
  const parts = await Promise.all(input.dirs.map(readPart))
  checkDistinctFolders(parts, input.out)
  checkSameRun(parts)
  checkWorkers(parts)
  parts.forEach(checkShardList)
  const plan = planShards(parts)
  await prepareOut(
    input.out,
    parts[0].manifest.command,
    plan.map((p) => p.file),
    input.overwrite,
  )

  const owners = new Owners()
  const progress = input.progress ?? silentProgress
  progress.start(plan.length, 0)
  const records = await copyVerified(plan, input.out, owners, progress)
  progress.end()
  const skips = parts.flatMap((p) => p.manifest.skips.map((s) => (owners.claimSkip(s, p.dir), s)))
  records.sort((a, b) => a.image_id - b.image_id) // stable: a worker's records keep their order within an image
  const first = parts[0].manifest
  const summary = summariseMerged(
    first,
    records.map((r) => r.summary),
    skips,
  )
  const manifest = await writeManifest(input.out, {
    tool: first.tool,
    command: first.command,
    created: new Date().toISOString(),
    config: mergedConfig(parts),
    ...(first.model ? {model: first.model} : {}),
    shards: plan.map(({part, shard, file}) => ({...shard, file, from: path.join(part.dir, shard.file)})),
    skips,
    summary,
  })
  return {
    out: input.out,
    manifest,
    command: first.command,
    workers: parts.length,
    shards: plan.length,
    records: records.length,
    skipped: skips.length,
    summary,
  }
}

interface PlannedShard {
  part: Part
  shard: Manifest['shards'][number]
  /** its name in the merged folder: one numbering over all inputs, workers in index order */
  file: string
}

/** Merged names `<command>-00000-of-000NN.jsonl`, in worker order (input order for unsharded runs). */
function planShards(parts: readonly Part[]): PlannedShard[] {
  const all = orderedParts(parts).flatMap((part) => part.manifest.shards.map((shard) => ({part, shard})))
  return all.map((s, k) => ({...s, file: shardFileName(s.part.manifest.command, k, all.length)}))
}

/** Workers in index order; unsharded runs in input order. */
function orderedParts(parts: readonly Part[]): Part[] {
  const index = (p: Part) => (p.manifest.config.shard_index as number | undefined) ?? 0
  return [...parts].sort((a, b) => index(a) - index(b))
}

/** Verify each shard's bytes, claim its ids, write it under its merged name; what the summary needs of each record. */
async function copyVerified(plan: readonly PlannedShard[], out: string, owners: Owners, progress: Progress): Promise<LightRecord[]> {
  const records: LightRecord[] = []
  for (const [k, {part, shard, file}] of plan.entries()) {
    const bytes = await readVerifiedShard(part.dir, shard)
    const pick = PICKERS[part.manifest.command]
    for (const record of parseShard(bytes, path.join(part.dir, shard.file))) {
      owners.claimRecord(record, part.dir, shard.file)
      records.push({image_id: record.image_id, ann_id: record.ann_id, summary: pick(record)})
    }
    await writeFileAtomic(path.join(out, file), bytes)
    progress.tick(k + 1, file)
  }
  return records
}

/** Empty or new, or holding only what an interrupted merge left; --overwrite clears an earlier merge first. */
async function prepareOut(out: string, command: string, files: readonly string[], overwrite: boolean): Promise<void> {
  const planned = new Set(files)
  // a run's folder (merge writes no run.json) is not an earlier merge: --overwrite would delete its shards
  if (existsSync(path.join(out, RUN_FILE)))
    throw new GetokError("the output folder holds a run's output, not an earlier merge; choose another --out", {
      file: path.join(out, RUN_FILE),
    })
  // own: what any getok run writes (out-files.ts), so a user's notes.jsonl survives --overwrite
  await claimFreshDir(out, {command, own: isRunOutput, refuseOthers: {overwrite, expected: (f) => planned.has(f)}})
}

function parseShard(bytes: Buffer, file: string): ShardRecord[] {
  return parseJsonl<ShardRecord>(utf8Text(bytes, file), file).map((r) => r.value)
}

type ShardRecord = Record<string, unknown> & {image_id: number; ann_id: number}

/** Which input each image id and annotation id came from; a second input with the same id is refused. */
class Owners {
  private readonly images = new Map<number, string>()
  private readonly anns = new Map<number, string>()

  claimRecord(record: {image_id: number; ann_id: number}, dir: string, shard: string): void {
    this.claim(this.images, 'image', record.image_id, dir, shard, true)
    this.claim(this.anns, 'annotation', record.ann_id, dir, shard, false)
  }

  claimSkip(skip: Skip, dir: string): void {
    if (typeof skip.image_id === 'number') this.claim(this.images, 'image', skip.image_id, dir, 'manifest.json skips', true)
    if (typeof skip.ann_id === 'number') this.claim(this.anns, 'annotation', skip.ann_id, dir, 'manifest.json skips', false)
  }

  /** sameDirOk: an image has many records in one input; an annotation appears once in all inputs together. */
  private claim(owners: Map<number, string>, what: string, id: number, dir: string, where: string, sameDirOk: boolean): void {
    const owner = owners.get(id)
    if (owner !== undefined && !(sameDirOk && owner === dir)) {
      throw new GetokError(
        `duplicate ${what} id ${id}: also in ${owner}`,
        {file: path.join(dir, where), field: what === 'image' ? 'image_id' : 'ann_id'},
        'each id in one input only',
      )
    }
    owners.set(id, dir)
  }
}

/**
 * The single run's configuration: a worker's, without its place in the split; unsharded runs add up their
 * images. A FREE setting the inputs differ in is the list of theirs, in worker order (the shards are copied as cut);
 * so is a path whose data they agree on (`curated`: each worker's folder, for information), and the annotations
 * files of unsharded runs read from more than one.
 */
function mergedConfig(parts: readonly Part[]): Record<string, unknown> {
  const {shard_index: _index, shard_count: count, ...rest} = parts[0].manifest.config
  const perRun = count === undefined ? ['annotations_sha256'] : []
  for (const k of [...freeFields(parts), ...perRun]) {
    const values = orderedParts(parts).map((p) => p.manifest.config[k])
    if (new Set(values.map((v) => JSON.stringify(v))).size > 1) rest[k] = values
  }
  const images = parts.map((p) => p.manifest.config.annotations_images)
  if (count === undefined && images.every((n) => typeof n === 'number'))
    rest.annotations_images = (images as number[]).reduce((a, b) => a + b, 0)
  return rest
}

/** Per command: what of a record the summary needs (kept in memory for all records, so small). */
const PICKERS: Record<string, (r: Record<string, unknown>) => unknown> = {
  curate: (r) => curateSummaryFields(r as unknown as RecordLike),
  offsets: (r) => {
    const o = r as unknown as OffsetsRecord
    return {
      ...o,
      image: undefined,
      prev: undefined,
      target: undefined,
      curated_points: o.curated_points === undefined ? undefined : o.curated_points && [],
    }
  },
}

function summariseMerged(first: Manifest, records: unknown[], skips: readonly Skip[]): unknown {
  if (first.command === 'curate') return summarise(records as RecordLike[], skips)
  return summariseOffsets(records as OffsetsRecord[], skips, first.config.token_style as never)
}
