/**
 * JSON Lines, the one reader for every getok file of that form (shards, journals, expressions,
 * predictions): one JSON value per line, UTF-8, lines ended by "\n"; blank lines are skipped and
 * lines are numbered from 1 as an editor shows them.
 *
 *   {"ann_id": 1, "expression": "the cat"}\n\n{"ann_id": 2, …}   →   rows at lines 1 and 3
 *
 * A line that is not JSON, or bytes that are not UTF-8, are an error naming the file and the line,
 * except where the caller says a cut tail is expected (a journal a crash may have cut): then
 * reading stops there.
 */
import {isUtf8} from 'node:buffer'
import {readFile} from 'node:fs/promises'
import {GetokError} from '../core/errors.js'
import {firstInvalidUtf8} from '../parsers/utf8.js'
import {utf8Text} from './text-file.js'

export interface JsonlRow<T> {
  value: T
  /** line number, from 1 */
  line: number
}

export interface JsonlOptions {
  /** stop at the first line that is not JSON instead of failing (the tail of a journal cut by a crash) */
  stopAtBroken?: boolean
  /** told the file's bytes as read, before anything is parsed: to check them against a manifest in the same read */
  bytes?: (bytes: Buffer) => void
}

export function parseJsonl<T = unknown>(text: string, file: string, options: JsonlOptions = {}): JsonlRow<T>[] {
  const rows: JsonlRow<T>[] = []
  // a byte-order mark (Windows editors, some exporters) is not part of the first value
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split('\n')
  for (let k = 0; k < lines.length; k++) {
    if (!lines[k].trim()) continue
    try {
      rows.push({value: JSON.parse(lines[k]) as T, line: k + 1})
    } catch (error) {
      if (options.stopAtBroken) break
      throw new GetokError(`invalid JSON (${(error as Error).message})`, {file, record: `line ${k + 1}`})
    }
  }
  return rows
}

export async function readJsonl<T = unknown>(file: string, options: JsonlOptions = {}): Promise<JsonlRow<T>[]> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    throw new GetokError(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? error})`, {file})
  }
  options.bytes?.(bytes)
  // a crash can cut a journal's last line mid-character: that line is broken like any cut line
  if (options.stopAtBroken && !isUtf8(bytes)) bytes = bytes.subarray(0, bytes.lastIndexOf(0x0a, firstInvalidUtf8(bytes)!.offset) + 1)
  return parseJsonl<T>(utf8Text(bytes, file), file, options)
}

/** Just the values, in order. */
export async function readJsonlValues<T = unknown>(file: string): Promise<T[]> {
  return (await readJsonl<T>(file)).map((r) => r.value)
}
