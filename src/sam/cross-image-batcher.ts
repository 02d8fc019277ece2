/**
 * Prompts of several images in one decoder run. With K images in flight (one caller each), every
 * caller asks `decode(embedding, prompts)` for its own image; the batcher collects the requests that
 * arrive before Node's next check phase (setImmediate: the callers' promise continuations after a
 * run all come first) and issues them together, at most `maxBatch` prompts a run, runs of one prompt
 * length each (a decoder run takes prompts of one length). Each caller gets its masks in its order.
 *
 * Two ways to issue them, measured against each other by scripts/bench-batching.ts:
 * - `graph`: one run of the cross-image decoder (SamEngine.decodeAcrossImages), whatever images;
 * - `concurrent`: each image's prompts as its own decodePrompts, all started at once (Promise.all).
 *   onnxruntime-node runs a session synchronously on the main thread, so these runs follow one another.
 */
import {type Pixel, type SamPrompt, clickPrompt} from '../core/decode/prompts.js'
import type {Device} from './devices.js'
import type {ImageEmbedding, ImagePrompts, PromptMasks, SamEngine} from './engine.js'

export type CrossImageMode = 'graph' | 'concurrent'

export interface CrossImageOptions {
  /** prompts a decoder run at most (default 16, the best GPU batch measured: docs/gpu.md) */
  maxBatch?: number
  mode?: CrossImageMode
}

/** What the batcher needs of the engine (SamEngine has it). */
export type CrossImageEngine = Pick<SamEngine, 'decodeAcrossImages' | 'decodePrompts'>

interface Pending extends ImagePrompts {
  resolve: (masks: PromptMasks[]) => void
  reject: (error: unknown) => void
}

/** One prompt of one request, with where its masks go. */
interface Slot {
  request: Pending
  at: number
}

/**
 * Whether curate gathers prompts across images by default. CPU: no. On the 2-core machine (CPU
 * rewrites, 4 images in flight) a cross-image run cost 24.1 ms a prompt against 15.6 for per-image
 * runs at run size 4, and 21.5 against 15.2 at 16 (gathering the image-side values per prompt
 * costs more than broadcasting them); docs/gpu.md, "Batching across images". GPU: yes, as batching
 * within an image pays there (16 a run); not yet measured on one.
 */
export function defaultCrossImage(device: Device): boolean {
  return device !== 'cpu'
}

export class CrossImageBatcher {
  private pending: Pending[] = []
  private readonly maxBatch: number
  private readonly mode: CrossImageMode
  /** decoder runs issued and prompts in them, for the benchmark */
  runs = 0
  prompts = 0

  constructor(
    private readonly engine: CrossImageEngine,
    options: CrossImageOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 16)
    this.mode = options.mode ?? 'graph'
  }

  /** This image's prompts decoded, possibly in runs shared with other images' prompts. */
  decode(embedding: ImageEmbedding, prompts: readonly SamPrompt[]): Promise<PromptMasks[]> {
    if (prompts.length === 0) return Promise.resolve([])
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => void this.flush())
      this.pending.push({embedding, prompts, resolve, reject})
    })
  }

  private async flush(): Promise<void> {
    const requests = this.pending
    this.pending = []
    if (this.mode === 'concurrent') {
      await Promise.all(requests.map((r) => this.engine.decodePrompts(r.embedding, r.prompts, this.maxBatch).then(r.resolve, r.reject)))
      this.runs += requests.reduce((n, r) => n + Math.ceil(r.prompts.length / this.maxBatch), 0)
      this.prompts += requests.reduce((n, r) => n + r.prompts.length, 0)
      return
    }
    const results = new Map(requests.map((r) => [r, new Array<PromptMasks>(r.prompts.length)]))
    const failed = new Set<Pending>()
    for (const run of runsOf(requests, this.maxBatch)) {
      const live = run.filter((s) => !failed.has(s.request))
      if (live.length === 0) continue
      try {
        const masks = await this.engine.decodeAcrossImages(groupByRequest(live))
        placeMasks(live, masks, results)
        this.runs++
        this.prompts += live.length
      } catch (error) {
        for (const r of new Set(live.map((s) => s.request))) {
          failed.add(r)
          r.reject(error)
        }
      }
    }
    for (const [r, masks] of results) if (!failed.has(r)) r.resolve(masks)
  }
}

/** The requests' prompts, by prompt length, in runs of at most maxBatch (in arrival order within a length). */
function runsOf(requests: readonly Pending[], maxBatch: number): Slot[][] {
  const byLength = new Map<number, Slot[]>()
  for (const request of requests) {
    request.prompts.forEach((p, at) => {
      const slots = byLength.get(p.points.length) ?? []
      slots.push({request, at})
      byLength.set(p.points.length, slots)
    })
  }
  const runs: Slot[][] = []
  for (const slots of byLength.values()) for (let s = 0; s < slots.length; s += maxBatch) runs.push(slots.slice(s, s + maxBatch))
  return runs
}

/** A run's slots as decodeAcrossImages requests: consecutive slots of one request together. */
function groupByRequest(run: readonly Slot[]): ImagePrompts[] {
  const groups: ImagePrompts[] = []
  let last: Pending | undefined
  for (const {request, at} of run) {
    if (request !== last) groups.push({embedding: request.embedding, prompts: []})
    ;(groups.at(-1)!.prompts as SamPrompt[]).push(request.prompts[at])
    last = request
  }
  return groups
}

function placeMasks(run: readonly Slot[], masks: PromptMasks[][], results: Map<Pending, PromptMasks[]>): void {
  const flat = masks.flat()
  run.forEach(({request, at}, k) => (results.get(request)![at] = flat[k]))
}

/**
 * The engine as curate sees it, its decoding gathered across images by the batcher (the `batch` a
 * caller passes gives way to the batcher's maxBatch); everything else is the engine's own.
 */
export function withCrossImageBatching(engine: SamEngine, batcher: CrossImageBatcher): SamEngine {
  const decodePrompts = (e: ImageEmbedding, prompts: readonly SamPrompt[]) => batcher.decode(e, prompts)
  const decodePoints = (e: ImageEmbedding, points: readonly Pixel[]) => batcher.decode(e, points.map(clickPrompt))
  return new Proxy(engine, {
    get(target, key) {
      if (key === 'decodePrompts') return decodePrompts
      if (key === 'decodePoints') return decodePoints
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}
