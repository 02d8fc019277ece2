import {writeFileSync} from 'node:fs'

/**
 * A text file saved in Latin-1 where it should be UTF-8: the UTF-8 bytes of `text`, except that each
 * "é" is the one byte 0xe9 (in UTF-8 it is 0xc3 0xa9). Node's lenient decoding reads that byte as U+FFFD.
 */
export function latin1E(text: string): Buffer {
  const parts = text.split('é').map((p) => Buffer.from(p, 'utf8'))
  return Buffer.concat(parts.flatMap((p, k) => (k === 0 ? [p] : [Buffer.from([0xe9]), p])))
}

/** Where the first 0xe9 of `bytes` is, as an error message says it: line, column (bytes, from 1) and byte offset. */
export function placeOfE9(bytes: Buffer): string {
  const offset = bytes.indexOf(0xe9)
  const lineStart = bytes.lastIndexOf(0x0a, offset) + 1
  const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1
  return `line ${line}, column ${offset - lineStart + 1} (byte ${offset})`
}

/** `text` written to `file` with each "é" as the byte 0xe9; the message the file's first such byte should give. */
export function writeLatin1(file: string, text: string): RegExp {
  const bytes = latin1E(text)
  writeFileSync(file, bytes)
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^${escape(file)}: invalid UTF-8 at ${escape(placeOfE9(bytes))}: bytes 0xe9 0x\\w\\w do not form a character; save`)
}
