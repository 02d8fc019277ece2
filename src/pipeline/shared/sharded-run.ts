/**
 * Drive work units (images) through shards with resume: shard k holds units
 * [k·size, (k+1)·size) of the ordered list; finished shards and journalled
 * units are skipped; the manifest is rebuilt from the shard files, so a resumed
 * run reports the same totals as an uninterrupted one. A finished shard whose bytes
 * no longer match its .stats.json stops the run (claimRunDir's --overwrite drops it first).
 *
 * Units may be processed several at once (`inFlight`: worker processes, or images
 * batched in one process), but results are written strictly in unit order through
 * a small reorder buffer, so the shards and journals are the bytes one-at-a-time
 * processing writes, and a kill leaves a journal that is a prefix of the order.
 */
import * as path from 'node:path'
import pLimit, {type LimitFunction} from 'p-limit'
import {type ShardStats, type Skip, ShardWriter, shardFileName, verifiedShardStats, writeFileAtomic} from '../../adapters/shards.js'
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
  /** units processed at the same time (default 1: the next starts once the last is written); writes stay in unit order */
  inFlight?: number
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
  // one at a time: each finished shard is read whole to check it against its .stats.json
  const stats: (ShardStats | null)[] = []
  for (const s of shards) stats.push(await verifiedShardStats(options.outDir, s.file))
  const alreadyDone = shards.reduce((s, sh, k) => s + (stats[k] ? sh.units.length : 0), 0)
  progress.start(units.length, alreadyDone)
  const writes = new OrderedWrites<U, R>(processUnit, progress, options.inFlight ?? 1, alreadyDone)
  try {
    for (const [k, shard] of shards.entries()) {
      if (stats[k]) continue
      const writer = await writes.open(options.outDir, shard.file, shard.units)
      const finished = writer.finishedUnits
      for (const unit of shard.units) if (!finished.has(unit.id)) await writes.push(unit, writer)
      writes.close(writer, (s) => (stats[k] = s))
    }
    await writes.drain()
  } catch (error) {
    await writes.abandon()
    throw error
  }
  progress.end()
  return {shards: stats as ShardStats[], resumed: writes.resumed}
}

type Slot<U, R> =
  | {kind: 'unit'; unit: U; writer: ShardWriter; result: Promise<UnitResult<R>>}
  | {kind: 'close'; writer: ShardWriter; closed: (stats: ShardStats) => void}

/**
 * The reorder buffer: units start in order under a concurrency limit, and are written in that order.
 * At most `window` units wait unwritten (started or done), so one slow unit holds back a bounded
 * number of finished ones; with inFlight 1 the window is 1 and a unit starts once the previous is written.
 */
class OrderedWrites<U extends {id: number}, R extends object> {
  private readonly queue: Slot<U, R>[] = []
  private readonly writers = new Set<ShardWriter>()
  private readonly limit: LimitFunction
  private readonly window: number
  private waiting = 0
  resumed: number

  constructor(
    private readonly processUnit: (unit: U) => Promise<UnitResult<R>>,
    private readonly progress: Progress,
    inFlight: number,
    private done: number,
  ) {
    const k = Math.max(1, Math.floor(inFlight))
    // cleared units reject, so that abandon() can wait for every unit to settle
    this.limit = pLimit({concurrency: k, rejectOnClear: true})
    this.window = k === 1 ? 1 : 2 * k
    this.resumed = done
  }

  /** Open a shard's writer; its journalled units count as done (and resumed). */
  async open(dir: string, file: string, units: readonly U[]): Promise<ShardWriter> {
    const writer = await ShardWriter.open(dir, file)
    this.writers.add(writer)
    const finished = writer.finishedUnits
    const journalled = units.filter((u) => finished.has(u.id)).length
    this.done += journalled
    this.resumed += journalled
    return writer
  }

  async push(unit: U, writer: ShardWriter): Promise<void> {
    while (this.waiting >= this.window) await this.writeHead()
    const result = this.limit(() => this.processUnit(unit))
    // a failure is rethrown when its turn to be written comes; until then it must not count as unhandled
    result.catch(() => {})
    this.queue.push({kind: 'unit', unit, writer, result})
    this.waiting++
  }

  /** Close the shard once every unit queued before this is written. */
  close(writer: ShardWriter, closed: (stats: ShardStats) => void): void {
    this.queue.push({kind: 'close', writer, closed})
  }

  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.writeHead()
  }

  /** On failure: start nothing more, let running units settle, close the files without finishing their shards. */
  async abandon(): Promise<void> {
    this.limit.clearQueue()
    await Promise.allSettled(this.queue.map((s) => (s.kind === 'unit' ? s.result : undefined)))
    for (const writer of this.writers) await writer.abandon()
  }

  private async writeHead(): Promise<void> {
    const slot = this.queue[0]
    if (slot.kind === 'close') {
      this.queue.shift()
      slot.closed(await slot.writer.close())
      this.writers.delete(slot.writer)
      return
    }
    const result = await slot.result
    await slot.writer.write(slot.unit.id, result.records, result.skips)
    this.queue.shift()
    this.waiting--
    this.progress.tick(++this.done)
  }
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
  /** what the run went on despite: an input shard not the bytes its manifest lists (shared/input-folders.ts) */
  warnings?: string[]
}

export async function writeManifest(outDir: string, manifest: Manifest): Promise<string> {
  const file = path.join(outDir, 'manifest.json')
  await writeFileAtomic(file, JSON.stringify(manifest, null, 2) + '\n')
  return file
}
