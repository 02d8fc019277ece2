/**
 * Samples of one image, from however many requests, scored in one decoder pass.
 *
 * Each image (key) has at most one waiting job. A sample for an image that has one joins it; else
 * it opens a new job, which is handed to the limiter (p-limit: at most `concurrency` jobs run at
 * once) after the collection window. A job takes what it holds when it starts, so while SAM is busy
 * every sample that arrives for an image piles into that image's next job: "whatever is queued
 * when the engine frees up". Samples whose request has given up (aborted signal) before their job
 * starts are dropped. A job's failure fails each of its samples.
 *
 * onnxruntime-node runs each encoder and decoder run on the main thread, so requests are read only
 * between runs. A job therefore yields one turn of the event loop before it takes its samples: the
 * requests that arrived during the previous run are read and queued first, and join it.
 */
import type {LimitFunction} from 'p-limit'

interface Entry<I, R> {
  item: I
  signal?: AbortSignal
  resolve: (result: R) => void
  reject: (error: unknown) => void
}

interface Job<C, I, R> {
  key: string
  context: C
  entries: Entry<I, R>[]
}

export interface BatcherStats {
  /** jobs run (one scoring pass each) */
  batches: number
  /** samples scored in them */
  batched: number
  /** samples dropped because their request gave up before their job started */
  dropped: number
  /** samples waiting or being scored */
  queued: number
  /** jobs running */
  running: number
}

export class ImageBatcher<C, I, R> {
  private readonly waiting = new Map<string, Job<C, I, R>>()
  private readonly counts = {batches: 0, batched: 0, dropped: 0, queued: 0, running: 0}
  private idle: (() => void)[] = []

  constructor(
    private readonly limit: LimitFunction,
    private readonly windowMs: number,
    /** score a job's items; one result per item, in order */
    private readonly run: (context: C, items: I[]) => Promise<R[]>,
  ) {}

  /** Score `item` with the other samples of image `key`; `context` is the image's (only the job's first is used). */
  add(key: string, context: C, item: I, signal?: AbortSignal): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.counts.queued++
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          this.counts.queued--
          f(v)
          this.notifyIdle()
        }
      const entry: Entry<I, R> = {item, signal, resolve: settle(resolve), reject: settle(reject)}
      const job = this.waiting.get(key)
      if (job) return void job.entries.push(entry)
      const fresh: Job<C, I, R> = {key, context, entries: [entry]}
      this.waiting.set(key, fresh)
      const schedule = () => void this.limit(() => this.start(fresh))
      if (this.windowMs > 0) setTimeout(schedule, this.windowMs)
      else schedule()
    })
  }

  stats(): BatcherStats {
    return {...this.counts}
  }

  /** Resolves once no sample is waiting or being scored. */
  drained(): Promise<void> {
    return this.counts.queued === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve))
  }

  private async start(job: Job<C, I, R>): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    if (this.waiting.get(job.key) === job) this.waiting.delete(job.key)
    const live = job.entries.filter((e) => !e.signal?.aborted)
    for (const e of job.entries) {
      if (!e.signal?.aborted) continue
      this.counts.dropped++
      e.reject(new Error('request given up before its samples were scored'))
    }
    if (live.length === 0) return
    this.counts.running++
    this.counts.batches++
    this.counts.batched += live.length
    try {
      const results = await this.run(
        job.context,
        live.map((e) => e.item),
      )
      live.forEach((e, k) => e.resolve(results[k]))
    } catch (error) {
      for (const e of live) e.reject(error)
    } finally {
      this.counts.running--
    }
  }

  private notifyIdle(): void {
    if (this.counts.queued > 0) return
    const waiting = this.idle
    this.idle = []
    for (const resolve of waiting) resolve()
  }
}
