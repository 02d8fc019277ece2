/** --workers, for the commands that pay for a worker process (curate; see docs/scale.md). Its own file: flags.ts is at its line limit. */
import {Flags} from '@oclif/core'
import {FlagError} from '../core/errors.js'
import {WORKERS_HELP, defaultWorkers} from '../pipeline/workers/count.js'
import {defaultCrossImage} from '../sam/cross-image-batcher.js'
import type {Device} from '../sam/devices.js'

export const workerFlags = {
  workers: Flags.integer({summary: WORKERS_HELP, min: 1}),
}

/** offsets runs no SAM: its workers only share the images, and it stays in one process unless told */
export const offsetsWorkerFlags = {
  workers: Flags.integer({
    summary:
      'Worker processes on this machine, each building the offsets of its share of the images (default 1: this process; ' +
      'no SAM runs in offsets; see docs/scale.md). The records are the same bytes for any count.',
    min: 1,
  }),
}

/** curate only: prompts gathered across images (src/sam/cross-image-batcher.ts); the default depends on --device */
export const crossImageFlags = {
  'cross-image': Flags.boolean({
    summary:
      'Keep 4 images in flight in this process and run their prompts together in decoder runs of up to max(--batch, 16); ' +
      'the same records; one process, so not with --workers N > 1. ' +
      'Default: off with --device cpu (slower there, docs/gpu.md "Batching across images"), on with a GPU unless --workers N > 1.',
    allowNo: true,
  }),
}

/**
 * Whether curate batches across images. Its images are in flight in one process, so a --cross-image
 * given with --workers N > 1 is refused, and the GPU default gives way to an explicit --workers N > 1.
 */
export function crossImageSetting(given: boolean | undefined, workers: number | undefined, device: Device): boolean {
  const several = workers !== undefined && workers > 1
  if (given === true && several)
    throw new FlagError(
      'cross-image',
      'one process only',
      '--workers 1 (its images share decoder runs in one process)',
      `--workers ${workers}`,
    )
  return given ?? (defaultCrossImage(device) && !several)
}

/**
 * What --workers gives a run: the count, and whether it is the default (which workersForRun lowers on
 * small runs). `oneProcess`: the run must stay in this process unless --workers says otherwise.
 */
export function workerSetting<S>(given: number | undefined, device: Device, threads: number | undefined, sam: S, oneProcess = false) {
  return {count: given ?? (oneProcess ? 1 : defaultWorkers(device, threads)), byDefault: given === undefined, sam}
}
