/**
 * Samples of one image, from however many requests, scored in one decoder pass.
 *
 * Each image (key) has at most one waiting job. A sample for an image that has one joins it; else
 * it opens a new job, which is handed to the limiter (p-limit: at most `concurrency` jobs run at
 * once) after the collection window. A job takes what it holds when it starts, so while SAM is busy
 * every sample that arrives for an image piles into that image's next job: "whatever is queued
 * when the engine frees up". A job scores its samples `slice` at a time, and drops those whose
 * request has given up (aborted signal: a timeout, a client gone) before each slice, so a request
 * given up stops costing SAM work within a slice; they reject with the signal's reason. A job's
 * failure fails each of its samples not yet scored.
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
  /** samples dropped because their request gave up before they were scored */
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
    /** score some of a job's items; one result per item, in order */
    private readonly run: (context: C, items: I[]) => Promise<R[]>,
    /** items scored in one call of `run`, at most: how much work a request given up may still cost */
    private readonly slice = Infinity,
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
    let rest = this.live(job.entries)
    if (rest.length === 0) return
    this.counts.running++
    this.counts.batches++
    try {
      while (rest.length > 0) {
        const slice = rest.slice(0, this.slice)
        this.counts.batched += slice.length
        const results = await this.run(
          job.context,
          slice.map((e) => e.item),
        )
        slice.forEach((e, k) => e.resolve(results[k]))
        rest = this.live(rest.slice(slice.length))
      }
    } catch (error) {
      for (const e of rest) e.reject(error)
    } finally {
      this.counts.running--
    }
  }

  /** The entries whose request still waits; the others are dropped, with their signal's reason. */
  private live(entries: Entry<I, R>[]): Entry<I, R>[] {
    const [live, gone] = [entries.filter((e) => !e.signal?.aborted), entries.filter((e) => e.signal?.aborted)]
    this.counts.dropped += gone.length
    for (const e of gone) e.reject(e.signal!.reason)
    return live
  }

  private notifyIdle(): void {
    if (this.counts.queued > 0) return
    const waiting = this.idle
    this.idle = []
    for (const resolve of waiting) resolve()
  }
}
