/**
 * JSONL shards with crash-safe resume.
 *
 *   out/curate-00003-of-00008.jsonl          finished shard (renamed into place)
 *   out/curate-00003-of-00008.stats.json     written last: the shard is done
 *   out/curate-00003-of-00008.jsonl.partial  shard being written
 *   out/curate-00003-of-00008.journal        one line per finished work unit:
 *       {"unit":139,"bytes":48211,"records":7,"skips":[...]}
 *
 * A work unit (one image) is appended to the partial file whole (writeAll: a short write is written on
 * or fails, naming the file), then its journal line, so a journal line counts only bytes on disk. On
 * resume the journal is kept up to its last line the partial file holds whole (heldByPartial: a partial
 * shorter than its journal, as an older getok left after a short write, redoes the units past it), the
 * partial file is cut back to that line's byte count, never extended, so a half-written line can never
 * survive, and the journalled units are skipped. A shard counts as done only when its stats file exists;
 * everything in it is derived from the journal, checked against the partial's bytes first, so a rerun
 * writes the same bytes. A resumed run checks each finished shard's bytes, sha256 and line count against
 * its stats file (verifiedShardStats) before it keeps the shard.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {open, readFile, rename, rm, truncate, writeFile, type FileHandle} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError} from '../core/errors.js'
import {countLines, heldByPartial, readJournal, type JournalLine} from './shard-journal.js'
import {readUtf8File} from './text-file.js'
import {cannotWrite, writeAll, writing} from './write-all.js'

export interface Skip {
  image_id: number
  ann_id?: number
  reason: string
}

export interface ShardStats {
  shard: string
  records: number
  units: number
  bytes: number
  sha256: string
  skips: Skip[]
}

export function shardFileName(name: string, index: number, count: number): string {
  const pad = (v: number) => String(v).padStart(5, '0')
  return `${name}-${pad(index)}-of-${pad(count)}.jsonl`
}

/**
 * Write a file so that readers see either the old content or the new, never a part. A failure (no such
 * folder, no space, no permission) is a GetokError naming the file, and leaves no temporary file behind.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  await writeAtomic(file, (handle) => handle.writeFile(content))
}

/**
 * writeFileAtomic for content too large to hold whole: `chunks` are written in order, UTF-8, in writes of
 * about a megabyte. Returns the file's byte count and sha256.
 */
export async function writeFileAtomicChunks(file: string, chunks: Iterable<string>): Promise<{bytes: number; sha256: string}> {
  const hash = createHash('sha256')
  let bytes = 0
  await writeAtomic(file, async (handle) => {
    let pending: string[] = []
    let length = 0
    const flush = async () => {
      const buf = Buffer.from(pending.join(''), 'utf8')
      pending = []
      length = 0
      await writeAll(handle, buf)
      hash.update(buf)
      bytes += buf.length
    }
    for (const chunk of chunks) {
      pending.push(chunk)
      length += chunk.length
      if (length >= 1 << 20) await flush()
    }
    await flush()
  })
  return {bytes, sha256: hash.digest('hex')}
}

async function writeAtomic(file: string, write: (handle: FileHandle) => Promise<unknown>): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  try {
    const handle = await open(tmp, 'w')
    try {
      await write(handle)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, file)
  } catch (error) {
    await rm(tmp, {force: true}).catch(() => {})
    throw cannotWrite(error, file)
  }
}

const statsFileName = (shard: string) => shard.replace(/\.jsonl$/, '.stats.json')

export async function readShardStats(dir: string, shard: string): Promise<ShardStats | null> {
  const file = path.join(dir, statsFileName(shard))
  if (!existsSync(file) || !existsSync(path.join(dir, shard))) return null
  try {
    return JSON.parse(await readUtf8File(file)) as ShardStats
  } catch (error) {
    const why = error instanceof GetokError ? error.what : (error as Error).message
    throw new GetokError(`cannot read a finished shard's stats (${why}); ${redoHint(shard)}`, {file})
  }
}

/**
 * A finished shard's stats once its bytes are checked against them: null when the shard is not finished,
 * a GetokError when it was changed since (an edited or cut shard would be kept, and the manifest list a
 * sha256 its bytes no longer have). Reads the shard whole; callers check one shard at a time.
 */
export async function verifiedShardStats(dir: string, shard: string): Promise<ShardStats | null> {
  const stats = await readShardStats(dir, shard)
  if (!stats) return null
  const content = await readFile(path.join(dir, shard))
  const found = {records: countLines(content), bytes: content.length}
  const sha256 = createHash('sha256').update(content).digest('hex')
  if (sha256 === stats.sha256 && found.bytes === stats.bytes && found.records === stats.records) return stats
  if (sha256 === stats.sha256 && found.bytes === stats.bytes) {
    // the very bytes the stats were made from: the shard is unchanged, its record count was wrong when written
    // (an older getok sealed a partial file that a short write had cut, counting its journal's records)
    throw new GetokError(
      `finished shard does not hold the records its .stats.json counts (same bytes and sha256); ${redoHint(shard)}`,
      {file: path.join(dir, shard)},
      `${stats.records} records (its .stats.json)`,
      `${found.records} lines`,
    )
  }
  const show = (v: {records: number; bytes: number}, sha: unknown) =>
    `${v.records} records, ${v.bytes} bytes, sha256 ${String(sha).slice(0, 16)}`
  throw new GetokError(
    `finished shard changed since it was written; ${redoHint(shard)}`,
    {file: path.join(dir, shard)},
    `${show(stats, stats.sha256)} (its .stats.json)`,
    show(found, sha256),
  )
}

const redoHint = (shard: string) => `delete ${shard} and ${statsFileName(shard)} to redo it, or rerun with --overwrite`

export class ShardWriter {
  private constructor(
    private readonly dir: string,
    readonly shard: string,
    private handle: FileHandle,
    private journal: FileHandle,
    private readonly done: JournalLine[],
    private bytes: number,
  ) {}

  /** Units already written in an earlier, interrupted run. */
  get finishedUnits(): Set<number> {
    return new Set(this.done.map((d) => d.unit))
  }

  private get partial(): string {
    return partialFile(this.dir, this.shard)
  }

  private get journalFile(): string {
    return journalFileOf(this.dir, this.shard)
  }

  static async open(dir: string, shard: string): Promise<ShardWriter> {
    const partial = partialFile(dir, shard)
    const journalFile = journalFileOf(dir, shard)
    const journalled = existsSync(journalFile) && existsSync(partial) ? await readJournal(journalFile) : []
    const done = journalled.length > 0 ? heldByPartial(await readFile(partial), journalled) : []
    const bytes = done.length > 0 ? done[done.length - 1].bytes : 0
    // only ever cut: heldByPartial keeps no line past the partial's end
    if (existsSync(partial)) await writing(partial, () => truncate(partial, bytes))
    await writing(journalFile, () => writeFile(journalFile, done.map((d) => JSON.stringify(d) + '\n').join('')))
    const handle = await writing(partial, () => open(partial, done.length > 0 ? 'a' : 'w'))
    const journal = await writing(journalFile, () => open(journalFile, 'a'))
    return new ShardWriter(dir, shard, handle, journal, done, bytes)
  }

  /** Append one finished unit: its records (already JSON objects) and its skips; its journal line once they are on disk. */
  async write(unit: number, records: readonly object[], skips: readonly Skip[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r) + '\n').join('')
    const buf = Buffer.from(text, 'utf8')
    if (buf.length > 0) await appendSynced(this.handle, buf, this.partial)
    const line: JournalLine = {unit, bytes: this.bytes + buf.length, records: records.length, skips: [...skips]}
    await appendSynced(this.journal, Buffer.from(JSON.stringify(line) + '\n', 'utf8'), this.journalFile)
    this.bytes = line.bytes
    this.done.push(line)
  }

  /** Rename the shard into place and write its stats file last. */
  async close(): Promise<ShardStats> {
    await writing(this.partial, () => this.handle.close())
    await writing(this.journalFile, () => this.journal.close())
    const final = path.join(this.dir, this.shard)
    const content = await readFile(this.partial)
    const stats: ShardStats = {
      shard: this.shard,
      records: this.done.reduce((s, d) => s + d.records, 0),
      units: this.done.length,
      bytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      skips: this.done.flatMap((d) => d.skips),
    }
    // the journal's counts and the bytes must agree, or the stats would describe a shard that is not there
    const lines = countLines(content)
    if (content.length !== this.bytes || lines !== stats.records) {
      throw new GetokError(
        'shard being written does not hold what its journal lists; rerun to redo its units',
        {file: this.partial},
        `${stats.records} records, ${this.bytes} bytes`,
        `${lines} lines, ${content.length} bytes`,
      )
    }
    await writing(final, () => rename(this.partial, final))
    await writeFileAtomic(final.replace(/\.jsonl$/, '.stats.json'), JSON.stringify(stats, null, 1) + '\n')
    await rm(this.journalFile, {force: true})
    return stats
  }

  /** Close the files without finishing the shard (on interruption). */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => {})
    await this.journal.close().catch(() => {})
  }
}

/** The shard's file while it is written, and its journal (the header). */
const partialFile = (dir: string, shard: string) => path.join(dir, `${shard}.partial`)
const journalFileOf = (dir: string, shard: string) => path.join(dir, shard.replace(/\.jsonl$/, '.journal'))

/** Append `data` whole and make it durable before anything that counts on it is written. */
async function appendSynced(handle: FileHandle, data: Uint8Array, file: string): Promise<void> {
  await writing(file, async () => {
    await writeAll(handle, data)
    await handle.datasync()
  })
}
