/**
 * Text a user hands getok (predictions, expressions, shards, manifests, templates), read as
 * UTF-8 and nothing else. Node's decoding turns bytes that are not UTF-8 into U+FFFD without a
 * word, so a file saved in Latin-1 or cut mid-character would be scored or trained on as "caf�";
 * here it stops the run, as the COCO reader does:
 *
 *   preds.jsonl: invalid UTF-8 at line 2, column 31 (byte 95): bytes 0xe9 0x22 do not form a character; save the file as UTF-8
 *
 * A valid file gives exactly what `readFile(file, 'utf8')` gives (a byte-order mark included).
 */
import {isUtf8} from 'node:buffer'
import {readFile} from 'node:fs/promises'
import {GetokError} from '../core/errors.js'
import {invalidUtf8Message} from '../parsers/utf8.js'

/** Throws a GetokError naming the file, line, column and byte of the first bad sequence. */
export function checkUtf8(bytes: Uint8Array, file: string): void {
  // isUtf8 is fast; only a bad file pays for finding where
  if (!isUtf8(bytes)) throw new GetokError(invalidUtf8Message(bytes)!, {file})
}

export function utf8Text(bytes: Buffer, file: string): string {
  checkUtf8(bytes, file)
  return bytes.toString('utf8')
}

/** `readFile(file, 'utf8')` that refuses bytes that are not UTF-8; read errors are Node's, as before. */
export async function readUtf8File(file: string): Promise<string> {
  return utf8Text(await readFile(file), file)
}
