/**
 * How many worker processes a run gets, and how many onnxruntime threads each (--workers,
 * --threads). Measured on a 2-core machine: docs/scale.md, "Worker processes".
 */
import {availableParallelism} from 'node:os'

/** Threads of each of `workers` processes out of `total` (default: the engine's, all cores): at least 1. */
export function threadsPerWorker(total: number | undefined, workers: number): number {
  return Math.max(1, Math.floor((total ?? availableParallelism()) / workers))
}

/** The default --workers: one process on a GPU (one device, one session); on the CPU see docs/scale.md. */
export function defaultWorkers(device: string, cores = availableParallelism()): number {
  if (device !== 'cpu') return 1
  return Math.max(1, cores)
}

export const WORKERS_HELP =
  'Worker processes on this machine, each with its own SAM session and --threads split between them ' +
  '(default: one per core on the CPU, 1 on a GPU; docs/scale.md). The records are the same bytes for any count.'
