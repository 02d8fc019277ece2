/**
 * `getok curate` in a worker process: its own SAM session (with its share of --threads), and
 * curateUnit of curate-run.ts for each image it is dealt, so its records are the bytes one
 * process writes.
 */
import {SamEngine} from '../../sam/engine.js'
import {type CurateWorkerInit, curateUnit} from '../curate/curate-run.js'
import type {LoadedJob, WorkerSam} from './protocol.js'

export interface CurateJobInit extends CurateWorkerInit {
  sam: WorkerSam
}

export async function createJob(init: CurateJobInit): Promise<LoadedJob> {
  const engine = await SamEngine.load(init.sam)
  let decoderCalls = 0
  return {
    info: engine.identity,
    async processImage(unit) {
      const curated = await curateUnit(init, engine, init.categories, unit)
      decoderCalls += curated.decoderCalls
      return {records: curated.records, skips: curated.skips}
    },
    counters: () => ({decoderCalls, encoderCalls: engine.encoderCalls}),
  }
}
