/**
 * Drive work units (images) through shards with resume: shard k holds units
 * [k·size, (k+1)·size) of the ordered list; finished shards and journalled
 * units are skipped; the manifest is rebuilt from the shard files, so a resumed
 * run reports the same totals as an uninterrupted one.
 */
import * as path from 'node:path'
import {type ShardStats, type Skip, ShardWriter, readShardStats, shardFileName, writeFileAtomic} from '../../adapters/shards.js'
import {readJsonl} from '../../adapters/jsonl.js'
import type {Progress} from './progress.js'

export interface UnitResult<R> {
  records: R[]
  skips: Skip[]
}

export interface ShardedRun {
  shards: ShardStats[]
  /** units an earlier run had finished (whole shards and journalled units): skipped here */
  resumed: number
}

export interface ShardedRunOptions {
  outDir: string
  name: string
  /** units per shard */
  shardSize: number
}

export async function runSharded<U extends {id: number}, R extends object>(
  units: readonly U[],
  options: ShardedRunOptions,
  processUnit: (unit: U) => Promise<UnitResult<R>>,
  progress: Progress,
): Promise<ShardedRun> {
  const count = Math.max(1, Math.ceil(units.length / options.shardSize))
  const shards = Array.from({length: count}, (_, k) => ({
    file: shardFileName(options.name, k, count),
    units: units.slice(k * options.shardSize, (k + 1) * options.shardSize),
  }))
  const stats: (ShardStats | null)[] = await Promise.all(shards.map((s) => readShardStats(options.outDir, s.file)))
  const alreadyDone = shards.reduce((s, sh, k) => s + (stats[k] ? sh.units.length : 0), 0)
  progress.start(units.length, alreadyDone)
  let done = alreadyDone
  let resumed = alreadyDone
  for (const [k, shard] of shards.entries()) {
    if (stats[k]) continue
    const writer = await ShardWriter.open(options.outDir, shard.file)
    const finished = writer.finishedUnits
    const journalled = shard.units.filter((u) => finished.has(u.id)).length
    done += journalled
    resumed += journalled
    try {
      for (const unit of shard.units) {
        if (finished.has(unit.id)) continue
        const result = await processUnit(unit)
        await writer.write(unit.id, result.records, result.skips)
        progress.tick(++done)
      }
    } catch (error) {
      await writer.abandon()
      throw error
    }
    stats[k] = await writer.close()
  }
  progress.end()
  return {shards: stats as ShardStats[], resumed}
}

/** Every record of the shards, in order; `pick` keeps only what the caller needs (a full-COCO run has ~860k records). */
export async function readShardRecords<R, P = R>(outDir: string, stats: readonly ShardStats[], pick?: (record: R) => P): Promise<P[]> {
  const out: P[] = []
  for (const s of stats) {
    for (const {value} of await readJsonl<R>(path.join(outDir, s.shard))) out.push(pick ? pick(value) : (value as unknown as P))
  }
  return out
}

export interface Manifest {
  tool: {name: string; version: string}
  command: string
  created: string
  config: Record<string, unknown>
  model?: {name: string; hash: string; encoder: string; decoder: string}
  shards: {file: string; records: number; units: number; bytes: number; sha256: string}[]
  skips: Skip[]
  summary: unknown
}

export async function writeManifest(outDir: string, manifest: Manifest): Promise<string> {
  const file = path.join(outDir, 'manifest.json')
  await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n')
  return file
}
