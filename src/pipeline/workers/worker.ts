/**
 * A worker process (forked by pool.ts): loads one job (curate: its own SAM session), then
 * processes the images the parent deals it, one at a time, exactly as one process would
 * (processUnit of shared/image-run.ts: object skips, image-level GetokErrors as skips).
 * It exits when the parent closes the channel or dies: it never outlives the run.
 */
import {processUnit} from '../shared/image-run.js'
import {type FromWorker, type LoadedJob, type ToWorker, type UnitSettings, fromPlainItem, toWire} from './protocol.js'

// the parent disconnects to close the pool; a parent killed with -9 closes the channel too
process.on('disconnect', () => process.exit(0))

let job: Promise<LoadedJob> | undefined
let settings: UnitSettings | undefined

const send = (message: FromWorker) => process.send!(message)

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
