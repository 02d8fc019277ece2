/**
 * `getok offsets` in a worker process: the curated records it joins read by the worker itself
 * (the same folder), then offsetsForImage of offsets-run.ts for each image it is dealt.
 */
import {readCurated} from '../offsets/curated-join.js'
import {type OffsetsWorkerInit, offsetsForImage} from '../offsets/offsets-run.js'
import type {LoadedJob} from './protocol.js'

export async function createJob(init: OffsetsWorkerInit): Promise<LoadedJob> {
  const curated = init.curated === undefined ? null : await readCurated(init.curated, init.options.grid)
  return {
    info: null,
    processImage: async (unit) => ({records: await offsetsForImage(init, init.categories, curated, unit), skips: []}),
    counters: () => ({}),
  }
}
