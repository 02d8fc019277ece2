/**
 * The reward server's HTTP side, on node:http alone:
 *
 *   GET  /health   200 {"status": "ok", …} once the model is loaded, 503 {"status": "loading"} before
 *   GET  /stats    200: requests, answers by status, POST /score latency, and the service's figures
 *   POST /score    a sample or a list of samples (protocol.ts) → their scores, same order
 *   anything else  404; a known path with another method 405 (with Allow)
 *
 * Every failure answers {"error": "..."}, also a request Node's parser refuses; nothing a client sends
 * escapes as an exception. A body that does not arrive within its own timeout answers 408. Scoring
 * that takes longer than the timeout answers 503; the request's samples not yet scored are dropped,
 * as are those of a client that hangs up (counted as aborted, not by a status: no fault of ours).
 * Bound to a loopback address, it also refuses requests whose Host header names another host (a web
 * page's DNS-rebinding trick). close() stops accepting, lets the requests in flight finish (within a
 * grace period), then closes every connection.
 */
import {type IncomingMessage, STATUS_CODES, type Server, type ServerResponse, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import type {Duplex} from 'node:stream'
import {GetokError} from '../core/errors.js'
import {checkJsonContentType, declaredTooLarge, readJsonBody} from './body.js'
import {HttpError, type SampleReply, type SampleRequest} from './protocol.js'
import {type RequestLimits, parseScoreRequest} from './request.js'
import {HttpStats} from './stats.js'

export interface ScoreService {
  /** Scores in the order of the samples; `signal` aborts when the request times out or its client leaves. */
  score(samples: SampleRequest[], signal: AbortSignal): Promise<SampleReply[]>
  health(): Record<string, unknown>
  stats(): Record<string, unknown>
}

export interface RewardHttpOptions {
  host: string
  /** 0: any free port */
  port: number
  maxBodyBytes: number
  /** reading a body, at most: 408 past it */
  bodyTimeoutMs: number
  limits: RequestLimits
  /** from a body's arrival to its answer, at most: 503 past it */
  timeoutMs: number
  /** the service once loaded, undefined while the model loads */
  service: () => ScoreService | undefined
}

export interface RewardHttpServer {
  url: string
  host: string
  port: number
  stats: HttpStats
  /** requests being answered */
  inFlight(): number
  close(graceMs: number): Promise<void>
}

const ROUTES: Record<string, string> = {'/health': 'GET', '/stats': 'GET', '/score': 'POST'}

export async function listenRewardServer(options: RewardHttpOptions): Promise<RewardHttpServer> {
  const stats = new HttpStats()
  const state = {inFlight: 0, closing: false}
  const allowedHosts = isLoopback(options.host) ? new Set(['localhost', '127.0.0.1', '[::1]', hostOnly(options.host)]) : null
  /** the response a socket's request is waiting for: a parse error mid-body is answered through it */
  const pending = new WeakMap<Duplex, ServerResponse>()
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    state.inFlight++
    pending.set(req.socket, res)
    res.on('close', () => {
      state.inFlight--
      if (pending.get(req.socket) === res) pending.delete(req.socket)
    })
    // answer() catches everything; a failure past that (a socket gone mid-write) only drops this connection
    answer(req, res, options, stats, {allowedHosts, closing: state.closing}).catch(() => res.destroy())
  }
  // Node's own limit on receiving a request, a backstop behind ours on the body (readJsonBody)
  const server = createServer({requestTimeout: options.bodyTimeoutMs + 30_000, headersTimeout: 20_000}, handler)
  // A client that announces an oversized body with "Expect: 100-continue" is refused before it sends it.
  server.on('checkContinue', (req, res) => {
    const tooLarge = declaredTooLarge(req, options.maxBodyBytes)
    if (!tooLarge) {
      res.writeContinue()
      return handler(req, res)
    }
    stats.requests++
    send(res, stats, tooLarge.status, {error: tooLarge.message}, {connection: 'close'})
  })
  server.on('clientError', (error: ParseError, socket: Duplex) => answerMalformed(error, socket, pending.get(socket), stats))
  await listen(server, options)
  const address = server.address() as AddressInfo
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    stats,
    inFlight: () => state.inFlight,
    close: (graceMs) => closeServer(server, state, graceMs),
  }
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  options: RewardHttpOptions,
  stats: HttpStats,
  ctx: {allowedHosts: Set<string> | null; closing: boolean},
): Promise<void> {
  stats.requests++
  const started = performance.now()
  let route = ''
  if (ctx.closing) res.setHeader('connection', 'close')
  try {
    checkHost(req, ctx.allowedHosts)
    route = routeOf(req)
    if (ctx.closing) throw new HttpError(503, 'the server is shutting down')
    const service = options.service()
    if (route === '/health')
      return send(res, stats, service ? 200 : 503, service ? {status: 'ok', ...service.health()} : {status: 'loading'})
    if (route === '/stats') return send(res, stats, 200, {...httpFigures(stats), ...(service ? service.stats() : {loading: true})})
    if (!service) throw new HttpError(503, 'the model is loading: retry once GET /health answers 200')
    const replies = await scoreWithin(req, res, service, options)
    send(res, stats, 200, replies)
  } catch (error) {
    const e = asHttpError(error)
    send(res, stats, e.status, {error: e.message}, e.headers)
  } finally {
    // a request whose client left has no latency to speak of
    if (route === '/score' && res.headersSent) stats.scoreLatency(performance.now() - started)
  }
}

/**
 * Read and parse one POST /score (within the body timeout), then score it within the timeout; the
 * signal aborts, with the reason, on timeout or when the client leaves, and the service stops there.
 */
async function scoreWithin(req: IncomingMessage, res: ServerResponse, service: ScoreService, options: RewardHttpOptions) {
  checkJsonContentType(req)
  const request = parseScoreRequest(await readJsonBody(req, options.maxBodyBytes, options.bodyTimeoutMs), options.limits)
  const controller = new AbortController()
  const gone = () => controller.abort(new HttpError(499, 'the client closed the connection'))
  if (res.destroyed) gone()
  res.on('close', gone)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new HttpError(503, `timed out after ${options.timeoutMs} ms (--timeout-ms); retry later or send fewer samples`)
      controller.abort(error)
      reject(error)
    }, options.timeoutMs)
  })
  const work = service.score(request.samples, controller.signal).then((replies) => (request.list ? replies : replies[0]))
  work.catch(() => {})
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function routeOf(req: IncomingMessage): string {
  const pathname = (req.url ?? '/').split('?')[0]
  const method = ROUTES[pathname]
  if (!method) throw new HttpError(404, `no such route: ${JSON.stringify(pathname.slice(0, 100))} (GET /health, GET /stats, POST /score)`)
  if (req.method !== method)
    throw new HttpError(405, `${pathname} takes ${method}, not ${String(req.method).slice(0, 20)}`, {allow: method})
  return pathname
}

function checkHost(req: IncomingMessage, allowed: Set<string> | null): void {
  const host = req.headers.host
  if (!allowed || host === undefined) return
  if (!allowed.has(hostOnly(host).toLowerCase()))
    throw new HttpError(403, `Host ${JSON.stringify(host.slice(0, 100))} refused: the server is bound to a loopback address`)
}

/** "127.0.0.1:8420" → "127.0.0.1", "[::1]:8420" → "[::1]", "::1" → "[::1]". */
function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1)
  if (host.split(':').length > 2) return `[${host}]`
  return host.split(':')[0]
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function asHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof GetokError) return new HttpError(422, error.text)
  return new HttpError(500, `internal error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500))
}

function send(res: ServerResponse, stats: HttpStats, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return // answered already: a parse error mid-body (answerMalformed)
  if (res.destroyed) return void stats.aborted++ // the client left: nobody to answer, and no fault of ours
  stats.answered(status)
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

function httpFigures(stats: HttpStats) {
  return {
    uptime_s: Math.round((Date.now() - stats.started) / 100) / 10,
    requests: stats.requests,
    errors: stats.errors,
    aborted: stats.aborted,
    status: stats.status,
    latency_ms: stats.latency(),
  }
}

/** Which flag a failure to listen is about: the port, or the address (a host that does not resolve or is not this machine's). */
const LISTEN_ERRORS: Record<string, {flag: 'host' | 'port'; text: string}> = {
  EADDRINUSE: {flag: 'port', text: 'address in use'},
  EACCES: {flag: 'port', text: 'permission denied'},
  EADDRNOTAVAIL: {flag: 'host', text: 'not an address of this machine'},
  ENOTFOUND: {flag: 'host', text: 'no such address or host name'},
  EAI_AGAIN: {flag: 'host', text: 'no such address or host name (the name lookup failed)'},
}

/** An error from Node's HTTP parser (llhttp): its code, and its reason in words. */
type ParseError = NodeJS.ErrnoException & {reason?: string}

/**
 * A request Node's parser refused (a bad or doubled Content-Length, Content-Length with
 * Transfer-Encoding, a body cut short, bytes that are not HTTP) answers {"error"} like any other, then
 * the connection closes. Mid-body, the request's own response carries it; before that, the socket.
 */
function answerMalformed(error: ParseError, socket: Duplex, res: ServerResponse | undefined, stats: HttpStats): void {
  // the parser reports every later chunk of a broken request too: the first answer stands
  if (malformed.has(socket)) return
  malformed.add(socket)
  const reply = malformedReply(error, res !== undefined)
  if (!reply || !socket.writable || res?.headersSent) return void socket.destroy()
  if (res) return send(res, stats, reply.status, {error: reply.message}, {connection: 'close'})
  stats.requests++
  stats.answered(reply.status)
  const text = JSON.stringify({error: reply.message})
  const head = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
  socket.end(`${head}Content-Length: ${Buffer.byteLength(text)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${text}`)
}

const malformed = new WeakSet<Duplex>()

function malformedReply(error: ParseError, midRequest: boolean): {status: number; message: string} | null {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return null
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return {status: 408, message: 'the request did not arrive in time'}
  if (error.code === 'HPE_HEADER_OVERFLOW') return {status: 431, message: 'request headers too large'}
  if (error.code === 'HPE_INVALID_EOF_STATE')
    return {
      status: 400,
      message: `the connection ended inside the request${midRequest ? "'s body (shorter than its Content-Length?)" : ''}`,
    }
  return {status: 400, message: `malformed HTTP request: ${(error.reason ?? error.message).slice(0, 200)} (${error.code})`}
}

function listen(server: Server, options: RewardHttpOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      const why = LISTEN_ERRORS[error.code ?? ''] ?? {flag: 'port', text: error.message}
      reject(new GetokError(`cannot listen on ${options.host}:${options.port}: ${why.text}`, {flag: why.flag}))
    }
    server.once('error', failed)
    server.listen(options.port, options.host, () => {
      server.off('error', failed)
      resolve()
    })
  })
}

async function closeServer(server: Server, state: {inFlight: number; closing: boolean}, graceMs: number): Promise<void> {
  state.closing = true
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const deadline = Date.now() + graceMs
  while (state.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  server.closeAllConnections()
  await closed
}
