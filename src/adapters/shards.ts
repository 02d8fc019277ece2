/**
 * JSONL shards with crash-safe resume.
 *
 *   out/curate-00003-of-00008.jsonl          finished shard (renamed into place)
 *   out/curate-00003-of-00008.stats.json     written last: the shard is done
 *   out/curate-00003-of-00008.jsonl.partial  shard being written
 *   out/curate-00003-of-00008.journal        one line per finished work unit:
 *       {"unit":139,"bytes":48211,"records":7,"skips":[...]}
 *
 * A work unit (one image) is appended to the partial file in one write, then
 * its journal line. On resume the partial file is cut back to the last
 * journalled byte count, so a half-written line can never survive, and the
 * journalled units are skipped. A shard counts as done only when its stats file
 * exists; everything in it is derived from the journal, so a rerun writes the
 * same bytes. A resumed run checks each finished shard's bytes, sha256 and line
 * count against its stats file (verifiedShardStats) before it keeps the shard.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {open, readFile, rename, rm, truncate, writeFile, type FileHandle} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError} from '../core/errors.js'
import {readJsonl} from './jsonl.js'
import {readUtf8File} from './text-file.js'

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

interface JournalLine {
  unit: number
  bytes: number
  records: number
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
      hash.update(buf)
      bytes += buf.length
      await handle.write(buf)
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
    if (error instanceof GetokError) throw error
    throw new GetokError(`cannot write the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {file})
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
  const show = (v: {records: number; bytes: number}, sha: unknown) =>
    `${v.records} records, ${v.bytes} bytes, sha256 ${String(sha).slice(0, 16)}`
  throw new GetokError(
    `finished shard changed since it was written; ${redoHint(shard)}`,
    {file: path.join(dir, shard)},
    `${show(stats, stats.sha256)} (its .stats.json)`,
    show(found, sha256),
  )
}

function countLines(content: Buffer): number {
  let n = 0
  for (let at = content.indexOf(0x0a); at >= 0; at = content.indexOf(0x0a, at + 1)) n++
  return n
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

  static async open(dir: string, shard: string): Promise<ShardWriter> {
    const partial = path.join(dir, `${shard}.partial`)
    const journalFile = path.join(dir, shard.replace(/\.jsonl$/, '.journal'))
    const done = existsSync(journalFile) && existsSync(partial) ? await readJournal(journalFile) : []
    const bytes = done.length > 0 ? done[done.length - 1].bytes : 0
    if (existsSync(partial)) await truncate(partial, bytes)
    if (done.length === 0) await writeFile(journalFile, '')
    else await writeFile(journalFile, done.map((d) => JSON.stringify(d) + '\n').join(''))
    const handle = await open(partial, done.length > 0 ? 'a' : 'w')
    const journal = await open(journalFile, 'a')
    return new ShardWriter(dir, shard, handle, journal, done, bytes)
  }

  /** Append one finished unit: its records (already JSON objects) and its skips. */
  async write(unit: number, records: readonly object[], skips: readonly Skip[]): Promise<void> {
    const text = records.map((r) => JSON.stringify(r) + '\n').join('')
    const buf = Buffer.from(text, 'utf8')
    if (buf.length > 0) {
      await this.handle.write(buf)
      await this.handle.datasync()
    }
    this.bytes += buf.length
    const line: JournalLine = {unit, bytes: this.bytes, records: records.length, skips: [...skips]}
    await this.journal.write(JSON.stringify(line) + '\n')
    await this.journal.datasync()
    this.done.push(line)
  }

  /** Rename the shard into place and write its stats file last. */
  async close(): Promise<ShardStats> {
    await this.handle.close()
    await this.journal.close()
    const partial = path.join(this.dir, `${this.shard}.partial`)
    const final = path.join(this.dir, this.shard)
    const content = await readFile(partial)
    const stats: ShardStats = {
      shard: this.shard,
      records: this.done.reduce((s, d) => s + d.records, 0),
      units: this.done.length,
      bytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      skips: this.done.flatMap((d) => d.skips),
    }
    await rename(partial, final)
    await writeFileAtomic(final.replace(/\.jsonl$/, '.stats.json'), JSON.stringify(stats, null, 1) + '\n')
    await rm(path.join(this.dir, this.shard.replace(/\.jsonl$/, '.journal')), {force: true})
    return stats
  }

  /** Close the files without finishing the shard (on interruption). */
  async abandon(): Promise<void> {
    await this.handle.close().catch(() => {})
    await this.journal.close().catch(() => {})
  }
}

async function readJournal(file: string): Promise<JournalLine[]> {
  // a line cut by a crash ends the journal
  return (await readJsonl<JournalLine>(file, {stopAtBroken: true})).map((r) => r.value)
}
