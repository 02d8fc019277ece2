/**
 * A request body → a JSON value, refusing what a client should not send: a body over the size
 * limit (413, also when only its Content-Length says so), another content type than
 * application/json (415: a web page cannot send that to a local port without a CORS preflight,
 * which this server never grants), bytes that are not UTF-8, text that is not JSON, and JSON nested
 * deeper than MAX_DEPTH (400; no sample needs more than 5 levels), and a body that does not arrive
 * within its timeout (408: a stalled client is its own fault, and retrying the same way will not help).
 */
import type {IncomingMessage} from 'node:http'
import {HttpError} from './protocol.js'

export const MAX_DEPTH = 32
/** --body-timeout-ms' default: 4 MiB (--max-body-kb's default) at 140 KB/s */
export const BODY_TIMEOUT_MS = 30_000
/** What a refused body may still stream in before the connection is cut (so the client reads its 413 first). */
const DISCARD_LIMIT = 16 << 20

export function checkJsonContentType(req: IncomingMessage): void {
  const type = req.headers['content-type']
  const media = type?.split(';')[0].trim().toLowerCase()
  if (media !== 'application/json')
    throw new HttpError(
      415,
      `Content-Type: expected application/json, got ${type === undefined ? 'none' : JSON.stringify(type.slice(0, 60))}`,
    )
}

/** Whether the Content-Length header already says the body is too large. */
export function declaredTooLarge(req: IncomingMessage, maxBytes: number): HttpError | null {
  const declared = Number(req.headers['content-length'])
  return Number.isFinite(declared) && declared > maxBytes ? tooLarge(declared, maxBytes) : null
}

export async function readJsonBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<unknown> {
  const early = declaredTooLarge(req, maxBytes)
  if (early) throw discardRest(req, early)
  const reading = readBytes(req, maxBytes)
  // past the timeout the answer closes the connection, which ends the read
  reading.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    const error = new HttpError(408, `the body did not arrive within ${timeoutMs} ms (--body-timeout-ms)`, {connection: 'close'})
    timer = setTimeout(() => reject(error), timeoutMs)
  })
  const bytes = await Promise.race([reading, late]).finally(() => clearTimeout(timer))
  if (bytes.length === 0) throw new HttpError(400, 'empty body: expected a sample or a list of samples as JSON')
  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    throw new HttpError(400, 'body is not UTF-8 text')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new HttpError(400, `body is not valid JSON: ${(error as Error).message.slice(0, 200)}`)
  }
  if (depthExceeds(value, MAX_DEPTH)) throw new HttpError(400, `body nested deeper than ${MAX_DEPTH} levels`)
  return value
}

async function readBytes(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > maxBytes) throw discardRest(req, tooLarge(maxBytes, maxBytes, true))
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

function tooLarge(bytes: number, maxBytes: number, atLeast = false): HttpError {
  return new HttpError(413, `body of ${atLeast ? 'more than ' : ''}${bytes} bytes: at most ${maxBytes} (--max-body-kb)`)
}

/** Read and drop what is left of a refused body, up to DISCARD_LIMIT, then cut the connection. */
function discardRest(req: IncomingMessage, error: HttpError): HttpError {
  let dropped = 0
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length
    if (dropped > DISCARD_LIMIT) req.destroy()
  })
  req.on('error', () => {})
  req.resume()
  return error
}

/** Whether any value inside is more than `max` arrays/objects deep; iterative, so no depth overflows it. */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth + 1 > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v))
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return false
}
