/**
 * N worker processes on this machine (node:child_process fork of worker.ts), each with its own
 * job (curate: its own SAM session). Images are dealt dynamically: the next free worker takes
 * the next image. A worker that dies, or fails with anything but a GetokError, fails the run
 * with its pid, its image and what happened; nothing waits forever on it.
 */
import {type ChildProcess, fork} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import type {CocoAnnotation, CocoImage} from '../../core/coco/records.js'
import type {RemoteUnits} from '../shared/image-run.js'
import type {UnitResult} from '../shared/sharded-run.js'
import {type FromWorker, type ToWorker, type UnitSettings, type WorkerJob, fromWire, plainItem} from './protocol.js'

interface Job<R> {
  seq: number
  image: CocoImage
  anns: readonly CocoAnnotation[]
  extra?: unknown
  resolve: (result: UnitResult<R>) => void
  reject: (error: Error) => void
}

interface Worker<R> {
  index: number
  child: ChildProcess
  busy?: Job<R>
  counters: Record<string, number>
}

/** How long close() waits for a worker to exit before killing it. */
const EXIT_GRACE_MS = 5000

export class WorkerPool<R> {
  private readonly queue: Job<R>[] = []
  private failure: Error | undefined
  private closing = false
  private seq = 0

  private constructor(
    private readonly label: string,
    private readonly workers: Worker<R>[],
    /** what the first worker's job reported when it was loaded (curate: the model identity) */
    readonly info: unknown,
  ) {
    for (const w of workers) this.watch(w)
    process.on('exit', this.killAll)
  }

  /** On the parent's exit (Ctrl-C, an error, process.exit anywhere): no worker outlives it, whatever it was doing. */
  private readonly killAll = () => {
    for (const w of this.workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  }

  /** Fork `count` workers and wait until each has loaded the job; a worker's GetokError (a bad model file) comes back as it is. */
  static async start<R>(label: string, count: number, job: WorkerJob, unit: UnitSettings): Promise<WorkerPool<R>> {
    const children = Array.from({length: count}, () => forkWorker())
    const killChildren = () => children.forEach((child) => child.kill('SIGKILL'))
    // interrupted while the workers load their job (curate: SAM): they go with the parent
    process.on('exit', killChildren)
    try {
      const infos = await Promise.all(children.map((child, i) => whenReady(child, `${label} worker ${i} (pid ${child.pid})`, job, unit)))
      return new WorkerPool<R>(
        label,
        children.map((child, index) => ({index, child, counters: {}})),
        infos[0],
      )
    } catch (error) {
      killChildren()
      throw error
    } finally {
      process.off('exit', killChildren)
    }
  }

  get size(): number {
    return this.workers.length
  }

  /** One image's result from the next free worker; `extra` goes with it as it is (eval: the samples). */
  process(image: CocoImage, anns: readonly CocoAnnotation[], extra?: unknown): Promise<UnitResult<R>> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure)
      this.queue.push({seq: this.seq++, image, anns, extra, resolve, reject})
      this.deal()
    })
  }

  /** Every worker's running totals, summed (curate: decoder and encoder calls). */
  counters(): Record<string, number> {
    const sum: Record<string, number> = {}
    for (const w of this.workers) for (const [k, v] of Object.entries(w.counters)) sum[k] = (sum[k] ?? 0) + v
    return sum
  }

  /** Let the workers go (they exit on disconnect); any still there after a grace period is killed. */
  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.workers.map((w) => stopWorker(w.child)))
    process.off('exit', this.killAll)
  }

  private deal(): void {
    for (const w of this.workers) {
      if (w.busy || this.queue.length === 0) continue
      const job = this.queue.shift()!
      w.busy = job
      const message: ToWorker = {type: 'unit', seq: job.seq, item: plainItem(job.image, job.anns, job.extra)}
      sendTo(w.child, message, (error) => this.fail(w, `could not be sent image ${job.image.id}: ${error.message}`))
    }
  }

  private watch(w: Worker<R>): void {
    w.child.on('message', (message: FromWorker) => {
      const job = w.busy
      if (message.type === 'ready' || !job || message.seq !== job.seq) return
      w.busy = undefined
      if (message.type === 'result') {
        w.counters = message.counters
        job.resolve(message.result as UnitResult<R>)
      } else job.reject(fromWire(message.error, `${this.name(w)} failed on image ${job.image.id}`))
      this.deal()
    })
    w.child.on('exit', (code, signal) => {
      if (!this.closing) this.fail(w, `stopped (${signal ? `signal ${signal}` : `exit code ${code}`})`)
    })
    w.child.on('error', (error) => this.fail(w, `failed: ${error.message}`))
  }

  /** A worker is gone: its image and every image still waiting fail, and so does every later call. */
  private fail(w: Worker<R>, what: string): void {
    const at = w.busy ? ` while on image ${w.busy.image.id}` : ''
    this.failure ??= new Error(`${this.name(w)} ${what}${at}; the run stops (rerun the command to resume it)`)
    w.busy?.reject(this.failure)
    w.busy = undefined
    for (const job of this.queue.splice(0)) job.reject(this.failure)
  }

  private name(w: Worker<R>): string {
    return `${this.label} worker ${w.index} (pid ${w.child.pid})`
  }
}

/** A pool as the run skeleton takes it (ImageCommand.remote): as many images in flight as workers. */
export function remoteUnits<R>(pool: WorkerPool<R>): RemoteUnits<R> {
  return {inFlight: pool.size, process: (item) => pool.process(item.image, item.anns), close: () => pool.close()}
}

/** The URL of a job module of this folder (curate-job, offsets-job), built or run from the sources. */
export function jobModule(name: string): string {
  return new URL(`./${name}.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href
}

/** The worker module beside this one: worker.js when built, worker.ts (through tsx) when run from the sources. */
function forkWorker(): ChildProcess {
  const source = import.meta.url.endsWith('.ts')
  const entry = fileURLToPath(new URL(source ? './worker.ts' : './worker.js', import.meta.url))
  return fork(entry, [], {
    serialization: 'advanced',
    // the worker's stdout goes to our stderr: --json output stays ours alone
    stdio: ['ignore', 2, 'inherit', 'ipc'],
    execArgv: source ? ['--import', 'tsx'] : process.execArgv,
  })
}

function whenReady(child: ChildProcess, name: string, job: WorkerJob, unit: UnitSettings): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`${name} stopped before it was ready (${signal ? `signal ${signal}` : `exit code ${code}`})`))
    child.once('exit', onExit)
    child.once('error', reject)
    child.on('message', function ready(message: FromWorker) {
      if (message.type !== 'ready' && message.type !== 'failed') return
      child.off('message', ready)
      child.off('exit', onExit)
      child.off('error', reject)
      if (message.type === 'ready') resolve(message.info)
      else reject(fromWire(message.error, `${name} could not load its job`))
    })
    const init: ToWorker = {type: 'init', job, unit}
    sendTo(child, init, (error) => reject(new Error(`${name} could not be sent its job: ${error.message}`)))
  })
}

/** Send a message; one that cannot be sent (EPIPE: the worker is gone) fails only if the worker's exit, which says why, is not first. */
function sendTo(child: ChildProcess, message: ToWorker, failed: (error: Error) => void): void {
  child.send(message, (error) => {
    if (!error || child.exitCode !== null || child.signalCode !== null) return
    const timer = setTimeout(() => failed(error), EXIT_GRACE_MS).unref()
    child.once('exit', () => clearTimeout(timer))
  })
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  if (child.connected) child.disconnect()
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS)
  await exited
  clearTimeout(timer)
}
