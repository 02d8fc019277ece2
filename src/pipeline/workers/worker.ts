/**
 * A worker process (forked by pool.ts): loads one job (curate: its own SAM session), then
 * processes the images the parent deals it, one at a time, exactly as one process would
 * (processUnit of shared/image-run.ts: object skips, image-level GetokErrors as skips).
 * It exits when the parent closes the channel or dies: it never outlives the run, and says nothing
 * when its parent went first (an answer it cannot send ends it quietly).
 */
import {processUnit} from '../shared/image-run.js'
import {type FromWorker, type LoadedJob, type ToWorker, type UnitSettings, fromPlainItem, toWire} from './protocol.js'

// the parent disconnects to close the pool; a parent killed with -9 closes the channel too
process.on('disconnect', () => process.exit(0))
// a parent gone while this one was busy: its answer cannot be sent (EPIPE); go quietly, no stack trace
const parentGone = () => process.exit(1)
process.on('error', parentGone)
// Ctrl-C reaches the whole process group: the parent stops the run (src/cli/interrupt.ts) and then this worker
process.on('SIGINT', () => {})

let job: Promise<LoadedJob> | undefined
let settings: UnitSettings | undefined

function send(message: FromWorker): void {
  if (!process.connected) return parentGone()
  process.send!(message, undefined, {}, (error) => error && parentGone())
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'init') {
    settings = message.unit
    job = loadJob(message.job.module, message.job.init)
    job.then(
      (loaded) => send({type: 'ready', info: loaded.info}),
      (error) => send({type: 'failed', error: toWire(error)}),
    )
    return
  }
  void runUnit(message.seq, message.item)
})

async function loadJob(module: string, init: unknown): Promise<LoadedJob> {
  const {createJob} = (await import(module)) as {createJob: (init: unknown) => Promise<LoadedJob>}
  return createJob(init)
}

async function runUnit(seq: number, item: Extract<ToWorker, {type: 'unit'}>['item']): Promise<void> {
  try {
    const loaded = await job!
    const unit = fromPlainItem(item)
    const result = loaded.processUnit ? await loaded.processUnit(unit, item.extra) : await processUnit(settings!, loaded, unit)
    send({type: 'result', seq, result, counters: loaded.counters()})
  } catch (error) {
    send({type: 'failed', seq, error: toWire(error)})
  }
}
