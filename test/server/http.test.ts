// Hostile clients against the real server (real SAM loaded; nothing here needs an image encoded).
import {connect} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type ServeHandle, startServe} from '../../src/pipeline/serve/serve-run.js'
import {SamEngine} from '../../src/sam/engine.js'
import {type Sent, score, send} from './client.js'

let h: ServeHandle
const MAX_BODY = 64 * 1024
const json = {'content-type': 'application/json'}
const post = (body: Sent['body'], headers: Record<string, string | number> = json) =>
  send(h.url, {method: 'POST', path: '/score', headers, body})
const VALID = {image_id: 25560, ann_id: 29572, answer: 'not an answer'}

/** Raw bytes on a fresh TCP connection; resolves with what came back before the server closed it. `end`: half-close after them. */
function raw(bytes: string | Buffer, {endAfterMs = 0, end = false} = {}): Promise<string> {
  const {port} = new URL(h.url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1')
    let got = ''
    socket.on('data', (d) => (got += d.toString('latin1')))
    socket.on('close', () => resolve(got))
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)))
    if (end) socket.end(bytes)
    else socket.write(bytes)
    if (endAfterMs) setTimeout(() => socket.destroy(), endAfterMs)
  })
}

/** A raw HTTP answer: its status, headers (lower-case names) and JSON body. */
function parsed(reply: string): {status: number; headers: Record<string, string>; json: any} {
  const [head, body] = [reply.slice(0, reply.indexOf('\r\n\r\n')), reply.slice(reply.indexOf('\r\n\r\n') + 4)]
  const [status, ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
  return {status: Number(status.split(' ')[1]), headers, json: JSON.parse(body)}
}
const HEAD = 'POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'

beforeAll(async () => {
  h = await startServe({
    annotations: 'fixtures/sample/instances.json',
    images: 'fixtures/sample/images',
    host: '127.0.0.1',
    port: 0,
    decode: {curated: 'fixtures/curated-sample'},
    batch: 1,
    cacheMb: 64,
    gtCacheMb: 16,
    concurrency: 1,
    windowMs: 0,
    timeoutMs: 30_000,
    bodyTimeoutMs: 500,
    maxBodyKb: MAX_BODY / 1024,
    maxSamples: 10,
    maxQueue: 100,
    engine: () => SamEngine.load({threads: 1}),
  })
  await h.ready
})
afterAll(async () => {
  await h.close()
})

describe('nothing a client sends crashes the server', () => {
  it.each([
    ['truncated JSON', '{"image_id": 25560, "ann', 400, /^body is not valid JSON: /],
    ['JSON with trailing junk', '{"image_id": 1} x', 400, /^body is not valid JSON: /],
    ['an empty body', '', 400, /^empty body/],
    ['null', 'null', 400, /^sample: expected an object, got null$/],
    ['a list of numbers', '[1, 2]', 400, /^\[0\]: expected an object, got 1$/],
    ['nested 30 000 deep', '['.repeat(30_000) + ']'.repeat(30_000), 400, /^body nested deeper than 32 levels$/],
    ['NUL bytes', '\0\0\0\0', 400, /^body is not valid JSON/],
  ])('%s', async (_, body, status, message) => {
    const a = await post(body)
    expect(a.status).toBe(status)
    expect(a.json.error).toMatch(message)
  })

  it('bytes that are not UTF-8: 400', async () => {
    const a = await post(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x80, 0x22, 0x7d]))
    expect(a).toMatchObject({status: 400, json: {error: 'body is not UTF-8 text'}})
  })

  it.each([
    ['text/plain', 'Content-Type: expected application/json, got "text/plain"'],
    ['application/x-www-form-urlencoded', 'Content-Type: expected application/json, got "application/x-www-form-urlencoded"'],
    ['multipart/form-data; boundary=x', 'Content-Type: expected application/json, got "multipart/form-data; boundary=x"'],
    [undefined, 'Content-Type: expected application/json, got none'],
  ])('Content-Type %s: 415', async (type, message) => {
    const a = await post(JSON.stringify(VALID), type ? {'content-type': type} : {})
    expect(a).toMatchObject({status: 415, json: {error: message}})
  })

  it('application/json with a charset is JSON', async () => {
    const a = await post(JSON.stringify(VALID), {'content-type': 'Application/JSON; charset=utf-8'})
    expect(a).toMatchObject({status: 200, json: {iou: 0, format_ok: false, failure: 'no_tokens'}})
  })

  it('bodies over --max-body-kb: 413 by Content-Length, by counting a chunked body, and before an Expect: 100-continue body', async () => {
    const big = JSON.stringify([{...VALID, answer: 'x'.repeat(MAX_BODY)}])
    const declared = await post(big, {...json, 'content-length': Buffer.byteLength(big)})
    expect(declared).toMatchObject({
      status: 413,
      json: {error: `body of ${Buffer.byteLength(big)} bytes: at most ${MAX_BODY} (--max-body-kb)`},
    })
    const chunks = Array.from({length: 40}, () => Buffer.alloc(4096, 0x20))
    const chunked = await post(chunks)
    expect(chunked.status).toBe(413)
    expect(chunked.json.error).toMatch(/^body of more than 65536 bytes: at most 65536/)
    const reply = await raw(
      'POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n',
    )
    expect(reply).toMatch(/^HTTP\/1\.1 413 /)
    expect(reply).not.toMatch(/100 Continue/)
  })

  it('more samples than --max-samples: 413', async () => {
    const a = await score(
      h.url,
      Array.from({length: 11}, () => VALID),
    )
    expect(a).toMatchObject({status: 413, json: {error: '11 samples in one request: at most 10 (--max-samples)'}})
  })

  it('unknown routes 404, wrong methods 405 with Allow', async () => {
    for (const p of ['/', '/scores', '/score/', '/../etc/passwd', '/health%00']) {
      const a = await send(h.url, {path: p})
      expect(a.status, p).toBe(404)
      expect(a.json.error).toMatch(/^no such route: /)
    }
    const get = await send(h.url, {path: '/score'})
    expect(get).toMatchObject({status: 405, json: {error: '/score takes POST, not GET'}})
    expect(get.headers.allow).toBe('POST')
    expect((await send(h.url, {method: 'POST', path: '/health', headers: json, body: '{}'})).headers.allow).toBe('GET')
    expect((await send(h.url, {method: 'DELETE', path: '/stats'})).status).toBe(405)
  })

  it('a Host header naming another host: 403 (DNS rebinding); localhost is fine', async () => {
    const evil = await send(h.url, {path: '/health', headers: {host: 'evil.example:8420'}})
    expect(evil).toMatchObject({status: 403, json: {error: 'Host "evil.example:8420" refused: the server is bound to a loopback address'}})
    expect((await send(h.url, {path: '/health', headers: {host: `localhost:${h.port}`}})).status).toBe(200)
  })

  it('garbage on the socket, a client that hangs up mid-body, binary noise: the server answers or drops that connection only', async () => {
    expect(await raw('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /)
    expect(await raw(Buffer.from(Array.from({length: 2000}, (_, k) => (k * 7919) % 256)))).toMatch(/^(HTTP\/1\.1 400 |)/)
    await raw('POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"image_id": 25', {
      endAfterMs: 50,
    })
    await raw('POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')
  })

  it.each([
    [
      'a body shorter than its Content-Length, then EOF',
      `${HEAD}Content-Length: 100\r\n\r\n{"ima`,
      /^the connection ended inside the request's body/,
    ],
    ['Content-Length: abc', `${HEAD}Content-Length: abc\r\n\r\n{}`, /^malformed HTTP request: Invalid character in Content-Length/],
    ['two Content-Lengths', `${HEAD}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, /^malformed HTTP request: Duplicate Content-Length/],
    [
      'Content-Length and Transfer-Encoding',
      `${HEAD}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
      /^malformed HTTP request: Transfer-Encoding can't be present with Content-Length/,
    ],
    ['a bad chunk size', `${HEAD}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, /^malformed HTTP request: Invalid character in chunk size/],
    ['garbage', 'GARBAGE\r\n\r\n', /^malformed HTTP request: Invalid method encountered/],
  ])("HTTP Node's parser refuses (%s): 400 with {error}, then the connection closes", async (_, bytes, message) => {
    const reply = parsed(await raw(bytes, {end: true}))
    expect(reply).toMatchObject({status: 400, headers: {'content-type': 'application/json; charset=utf-8', connection: 'close'}})
    expect(reply.json.error).toMatch(message)
  })

  it('a body that stalls (headers, then part of it, then nothing): 408 past --body-timeout-ms, not 503', async () => {
    const reply = parsed(await raw(`${HEAD}Content-Length: 100\r\n\r\n{"ima`))
    expect(reply).toMatchObject({
      status: 408,
      headers: {connection: 'close'},
      json: {error: 'the body did not arrive within 500 ms (--body-timeout-ms)'},
    })
  })

  it('after all that: healthy, still scoring, and /stats counted every answer by status', async () => {
    expect((await send(h.url, {path: '/health'})).status).toBe(200)
    const a = await score(h.url, [VALID, {...VALID, answer: ''}])
    expect(a.json).toEqual([
      {task: 'seg', iou: 0, box_iou: null, format_ok: false, failure: 'no_tokens'},
      {task: 'seg', iou: 0, box_iou: null, format_ok: false, failure: 'empty'},
    ])
    const stats = (await send(h.url, {path: '/stats'})).json
    for (const code of ['200', '400', '403', '404', '405', '408', '413', '415']) expect(stats.status[code], code).toBeGreaterThan(0)
    // the client that hung up mid-body is no fault of the server's
    expect(stats.status['500']).toBeUndefined()
    expect(stats.errors).toBe(Object.entries(stats.status).reduce((s, [c, n]) => s + (Number(c) >= 400 ? (n as number) : 0), 0))
    expect(stats.latency_ms.count).toBeGreaterThan(10)
    expect(stats.images_encoded).toBe(0)
  })
})
