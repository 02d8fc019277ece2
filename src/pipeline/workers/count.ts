/**
 * How many worker processes a run gets, and how many onnxruntime threads each (--workers,
 * --threads). Measured on a 2-core machine: docs/scale.md, "Worker processes".
 */
import {availableParallelism, totalmem} from 'node:os'

/** Memory a worker is given room for: a curate worker at --grid 32 peaks at ~0.6 GB RSS (docs/scale.md). */
const WORKER_MEMORY = 2 ** 30

/** Threads of each of `workers` processes out of `total` (default: the engine's, all cores): at least 1. */
export function threadsPerWorker(total: number | undefined, workers: number): number {
  return Math.max(1, Math.floor((total ?? availableParallelism()) / workers))
}

/**
 * The default --workers: on the CPU one worker per 2 cores (each then runs onnxruntime on 2 threads),
 * within --threads and 1 GiB of memory each; on a GPU one (one device, one session). Why 2 cores a
 * worker: on an idle 2-core machine 1 two-thread process was as fast as 2 one-thread workers (1.03×)
 * with half the memory, and 4 workers were slower (docs/scale.md, "Worker processes").
 */
export function defaultWorkers(device: string, threads?: number, cores = availableParallelism(), memory = totalmem()): number {
  if (device !== 'cpu') return 1
  return Math.max(1, Math.min(Math.floor(Math.min(cores, threads ?? cores) / 2), Math.floor(memory / WORKER_MEMORY)))
}

export const WORKERS_HELP =
  'Worker processes on this machine, each with its own SAM session and --threads split between them ' +
  '(default on the CPU: one per 2 cores of --threads, at least 1; 1 on a GPU; see docs/scale.md). ' +
  'The records are the same bytes for any count.'
