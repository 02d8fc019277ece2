/**
 * Where bytes stop being UTF-8. Node's decoders replace a bad sequence by U+FFFD without a word,
 * so a file in Latin-1 or cut mid-character would pass as text with "�" in it; callers check the
 * bytes first (node:buffer `isUtf8`, fast) and, only when that fails, ask here where and what:
 *
 *   firstInvalidUtf8(bytes of 'caf' + 0xe9 + ' au lait')   →   {offset: 3, bytes: [0xe9, 0x20]}
 *
 * The rules are RFC 3629's (those of TextDecoder with `fatal: true`): no overlong forms, no
 * surrogates (U+D800–DFFF), nothing above U+10FFFF, no sequence cut short. Pure.
 */

export interface Utf8Problem {
  /** byte offset of the first byte of the bad sequence */
  offset: number
  /** that sequence's bytes as far as they were read (at most 4) */
  bytes: number[]
}

/** The first bad sequence, or null when all of `bytes` is UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): Utf8Problem | null {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]
    if (b < 0x80) {
      i++
      continue
    }
    const length = sequenceLength(b)
    const [low, high] = secondByteRange(b)
    let k = 1
    for (; k < length && i + k < bytes.length; k++) {
      const c = bytes[i + k]
      if (k === 1 ? c < low || c > high : c < 0x80 || c > 0xbf) break
    }
    if (length === 0 || k < length) return {offset: i, bytes: Array.from(bytes.subarray(i, i + Math.max(1, Math.min(k + 1, length))))}
    i += length
  }
  return null
}

/** 2–4 for a lead byte, 0 for a byte no character starts with (a continuation byte, C0, C1, F5–FF). */
function sequenceLength(b: number): number {
  if (b >= 0xc2 && b <= 0xdf) return 2
  if (b >= 0xe0 && b <= 0xef) return 3
  if (b >= 0xf0 && b <= 0xf4) return 4
  return 0
}

/** The second byte's range, narrower after E0 (overlong), ED (surrogates), F0 (overlong) and F4 (> U+10FFFF). */
function secondByteRange(b: number): [number, number] {
  if (b === 0xe0) return [0xa0, 0xbf]
  if (b === 0xed) return [0x80, 0x9f]
  if (b === 0xf0) return [0x90, 0xbf]
  if (b === 0xf4) return [0x80, 0x8f]
  return [0x80, 0xbf]
}

/** "0xe9 0x20": a problem's bytes for a message. */
export function showBytes(bytes: readonly number[]): string {
  return bytes.map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ')
}

/** Where a run of bytes starts in its file: line and column (in bytes) from 1, byte offset from 0. */
export interface BytePosition {
  line: number
  column: number
  offset: number
}

/**
 * The message for the first bad sequence of `bytes`, placed in the file they start at `start` of;
 * null when all of them are UTF-8. Every reader of text says it the same way:
 *
 *   invalid UTF-8 at line 3, column 25 (byte 85): bytes 0xe9 0x2e do not form a character; save the file as UTF-8
 */
export function invalidUtf8Message(bytes: Uint8Array, start: BytePosition = {line: 1, column: 1, offset: 0}): string | null {
  const problem = firstInvalidUtf8(bytes)
  if (!problem) return null
  const before = bytes.subarray(0, problem.offset)
  const newlines = before.reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0)
  const column = newlines === 0 ? start.column + problem.offset : problem.offset - before.lastIndexOf(0x0a)
  const where = `line ${start.line + newlines}, column ${column} (byte ${start.offset + problem.offset})`
  return `invalid UTF-8 at ${where}: bytes ${showBytes(problem.bytes)} do not form a character; save the file as UTF-8`
}
