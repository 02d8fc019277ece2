/**
 * A shard's journal (`<name>.journal`, one line per unit written to `<name>.jsonl.partial`):
 *   {"unit":139,"bytes":48211,"records":7,"skips":[...]}
 * `bytes` is the partial file's length once the unit's records are on disk; a line is written only then.
 */
import {readJsonl} from './jsonl.js'
import type {Skip} from './shards.js'

export interface JournalLine {
  unit: number
  bytes: number
  records: number
  skips: Skip[]
}

export async function readJournal(file: string): Promise<JournalLine[]> {
  // a line cut by a crash ends the journal
  return (await readJsonl<JournalLine>(file, {stopAtBroken: true})).map((r) => r.value)
}

/**
 * The journal lines the partial file holds whole, up to the first it does not: each line's bytes lie within
 * the file, after the previous line's, and hold its records as that many complete lines (no NUL byte, which
 * no JSON line holds: a file extended over a gap reads as NULs). Units past the first line that fails are redone.
 */
export function heldByPartial(content: Buffer, journal: readonly JournalLine[]): JournalLine[] {
  let start = 0
  for (const [k, line] of journal.entries()) {
    const end = line.bytes
    const whole =
      Number.isInteger(end) &&
      end >= start &&
      end <= content.length &&
      (end === start || content[end - 1] === 0x0a) &&
      countLines(content.subarray(start, end)) === line.records &&
      !content.subarray(start, end).includes(0)
    if (!whole) return journal.slice(0, k)
    start = end
  }
  return [...journal]
}

export function countLines(content: Buffer): number {
  let n = 0
  for (let at = content.indexOf(0x0a); at >= 0; at = content.indexOf(0x0a, at + 1)) n++
  return n
}
