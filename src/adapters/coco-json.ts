/**
 * The COCO reader's JSON layer: one element of the streaming scan (parsers/json-scan) → its value,
 * and every way that can fail → a GetokError naming the file and the position in it (line, column
 * and byte, as the scan counts them), and the record where it is known:
 *
 *   instances.json: invalid JSON at line 6, column 70 (byte 212) in annotations[0], near "…NaN…": Unexpected token 'N' …
 *   instances.json, image 1: invalid UTF-8 at line 3, column 25 (byte 85): bytes 0xe9 0x2e do not form a character; …
 */
import {isUtf8} from 'node:buffer'
import {GetokError, showValue} from '../core/errors.js'
import type {JsonScanError, ScanEvent} from '../parsers/json-scan.js'
import {jsonErrorOffset} from '../parsers/json-syntax.js'
import {invalidUtf8Message} from '../parsers/utf8.js'

export function scanErrorToGetok(error: JsonScanError, file: string): GetokError {
  if (error.reason.startsWith('expected "{"'))
    return new GetokError('not a COCO instances file', {file}, 'a JSON object', showValue(error.near))
  const where = `line ${error.line}, column ${error.column} (byte ${error.offset})`
  return new GetokError(`invalid JSON at ${where}, near ${showValue(error.near)}: ${error.reason}`, {file})
}

/** JSON.parse of one element; a syntax error or bytes that are not UTF-8 name their line, column and byte in the whole file. */
export function parseElement(event: ScanEvent, file: string): unknown {
  const bytes = Buffer.from(event.bytes.buffer, event.bytes.byteOffset, event.bytes.length)
  // toString would turn bad bytes into U+FFFD without a word; isUtf8 costs little beside JSON.parse
  if (!isUtf8(bytes)) throw utf8Error(event, file)
  const text = bytes.toString('utf8')
  try {
    return JSON.parse(text)
  } catch (error) {
    const k = safeErrorOffset(text)
    const before = text.slice(0, k)
    const lastNewline = before.lastIndexOf('\n')
    const line = event.line + (before.match(/\n/g)?.length ?? 0)
    const column = lastNewline < 0 ? event.column + Buffer.byteLength(before) : Buffer.byteLength(before.slice(lastNewline + 1)) + 1
    const byte = event.offset + Buffer.byteLength(before)
    const near = showValue(text.slice(Math.max(0, k - 20), k + 20))
    const message = (error as Error).message.replace(/ in JSON at position \d+[\s\S]*$/, '')
    const record = event.index >= 0 ? `${event.key}[${event.index}]` : `"${event.key}"`
    throw new GetokError(`invalid JSON at line ${line}, column ${column} (byte ${byte}) in ${record}, near ${near}: ${message}`, {file})
  }
}

/** The first bytes of an element that are not UTF-8: where in the file, and in which record when its id can be read. */
function utf8Error(event: ScanEvent, file: string): GetokError {
  return new GetokError(invalidUtf8Message(event.bytes, event)!, {file, record: recordName(event)})
}

/** "annotation 2045" when the element is an annotation, image or category whose id can be read; else "annotations[3]". */
function recordName(event: ScanEvent): string {
  if (event.index < 0) return `"${event.key}"`
  const singular = ({annotations: 'annotation', images: 'image', categories: 'category'} as Record<string, string>)[event.key]
  const id = safeParse(Buffer.from(event.bytes).toString('utf8'))?.id
  return singular && Number.isInteger(id) ? `${singular} ${id}` : `${event.key}[${event.index}]`
}

function safeParse(text: string): {id?: unknown} | undefined {
  try {
    return JSON.parse(text) as {id?: unknown}
  } catch {
    return undefined
  }
}

/** Where JSON.parse failed inside an element; 0 when the element is too deeply nested to walk. */
function safeErrorOffset(text: string): number {
  try {
    return jsonErrorOffset(text)
  } catch {
    return 0
  }
}
