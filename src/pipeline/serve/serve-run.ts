/**
 * `getok serve` end to end: settle the decoding (the curated data's, as `getok eval` does), listen
 * at once (GET /health answers 503 meanwhile), then read the COCO file and load SAM; the service
 * takes requests once both are in. close() is the graceful stop: no new connections, requests in
 * flight finish, queued samples are scored, then the engine is released.
 */
import {existsSync, statSync} from 'node:fs'
import {realpath} from 'node:fs/promises'
import * as path from 'node:path'
import {readCoco} from '../../adapters/coco.js'
import {GetokError} from '../../core/errors.js'
import type {SamEngine} from '../../sam/engine.js'
import {BODY_TIMEOUT_MS} from '../../server/body.js'
import {type RewardHttpServer, listenRewardServer} from '../../server/http.js'
import {OBJECT_LIMITS} from '../../server/request.js'
import {type DecodeSettings, type SettingsInput, decodeSettings} from '../eval/settings.js'
import {RewardService} from './reward-service.js'
import {type Warn, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface ServeInput {
  annotations: string
  images: string
  host: string
  port: number
  /** the curated data's decoding: --curated, an export folder's manifest, flags */
  decode: SettingsInput
  /** a --curated shard not the bytes its manifest lists */
  warn?: Warn
  /** prompts per decoder run */
  batch: number
  cacheMb: number
  gtCacheMb: number
  concurrency: number
  windowMs: number
  timeoutMs: number
  /** default BODY_TIMEOUT_MS */
  bodyTimeoutMs?: number
  maxBodyKb: number
  maxSamples: number
  /** objects of one sample, of one request: default OBJECT_LIMITS */
  maxObjects?: number
  maxRequestObjects?: number
  maxQueue: number
  engine: () => Promise<SamEngine>
  /** release the engine on close (default true; a test sharing one engine says false) */
  releaseEngine?: boolean
}

export interface ServeHandle {
  url: string
  port: number
  decode: DecodeSettings
  http: RewardHttpServer
  /** resolves once the COCO file and the model are loaded (GET /health answers 200) */
  ready: Promise<RewardService>
  service(): RewardService | undefined
  /** the graceful stop; resolves with the final figures */
  close(): Promise<Record<string, unknown>>
}

const MB = 1 << 20

/** The curated data's decoding; its folders are refused while a run writes them, before anything is read. */
async function servedDecode(input: ServeInput): Promise<DecodeSettings> {
  const {curated, reference} = input.decode
  await refuseFoldersBeingWritten([
    {path: curated, flag: 'curated'},
    {path: reference && path.dirname(reference), flag: 'export'},
  ])
  return decodeSettings(input.decode, input.warn)
}

export async function startServe(input: ServeInput): Promise<ServeHandle> {
  if (!existsSync(input.images) || !statSync(input.images).isDirectory())
    throw new GetokError('image folder not found', {file: input.images})
  if (!existsSync(input.annotations)) throw new GetokError('annotation file not found', {file: input.annotations})
  const imagesRoot = await realpath(input.images)
  const decode = await servedDecode(input)
  let service: RewardService | undefined
  const http = await listenRewardServer({
    host: input.host,
    port: input.port,
    maxBodyBytes: input.maxBodyKb * 1024,
    bodyTimeoutMs: input.bodyTimeoutMs ?? BODY_TIMEOUT_MS,
    limits: {
      samples: input.maxSamples,
      objects: input.maxObjects ?? OBJECT_LIMITS.objects,
      requestObjects: input.maxRequestObjects ?? OBJECT_LIMITS.requestObjects,
    },
    timeoutMs: input.timeoutMs,
    service: () => service,
  })
  const engine = input.engine()
  const ready = (async () => {
    const [data, sam] = await Promise.all([readCoco(input.annotations), engine])
    service = new RewardService({
      data,
      imagesRoot,
      engine: sam,
      decode,
      batch: input.batch,
      cacheBytes: input.cacheMb * MB,
      gtCacheBytes: input.gtCacheMb * MB,
      concurrency: input.concurrency,
      windowMs: input.windowMs,
      maxQueue: input.maxQueue,
    })
    return service
  })()
  ready.catch(() => {})
  let closing: Promise<Record<string, unknown>> | undefined
  const close = async () => {
    // requests in flight get their timeouts to finish; past them they have answered 408 or 503 anyway
    await http.close((input.bodyTimeoutMs ?? BODY_TIMEOUT_MS) + input.timeoutMs + 1000)
    const loaded = await ready.catch(() => undefined)
    if (loaded) await loaded.drained()
    const {requests, errors, aborted} = http.stats
    const figures = {...loaded?.stats(), requests, errors, aborted, latency_ms: http.stats.latency()}
    if (input.releaseEngine !== false) await (await engine.catch(() => undefined))?.release()
    return figures
  }
  return {
    url: http.url,
    port: http.port,
    decode,
    http,
    ready,
    service: () => service,
    close: () => (closing ??= close()),
  }
}

/** "n = 16, rule union, policy single, dv +1 down (rule from curate manifest (out/curated))" */
export function decodeLine(d: DecodeSettings): string {
  const s = d.settings
  return `n = ${s.n}, rule ${s.rule}, policy ${d.policy}, dv +1 ${s.flipV ? 'up' : 'down'} (rule from ${d.source.rule})`
}
