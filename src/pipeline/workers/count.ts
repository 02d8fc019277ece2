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
 * The default --workers: on the CPU one worker per core of --threads (each runs onnxruntime on one
 * thread), within 1 GiB of memory each; on a GPU one (one device, one session). Why one a core: on
 * 2-core machines 2 one-thread workers beat 1 two-thread process on every run measured, 1.15–1.30×
 * over 48 images (docs/scale.md, "Worker processes"): onnxruntime's threads wait on each other at every
 * parallel step, separate processes do not. A run never has more workers than images.
 */
export function defaultWorkers(device: string, threads?: number, cores = availableParallelism(), memory = totalmem()): number {
  if (device !== 'cpu') return 1
  return Math.max(1, Math.min(cores, threads ?? cores, Math.floor(memory / WORKER_MEMORY)))
}

/**
 * A default worker is only worth its start-up (a process and a model load, about a second) over this
 * many images: on 2 cores 2 workers were slower than 1 over 4 images, about even over 8 and faster over 12
 * (docs/scale.md, "Worker processes"). An explicit --workers is taken as given.
 */
export const IMAGES_PER_DEFAULT_WORKER = 6

/** The processes a run of `images` images gets: never more than images; by default one per IMAGES_PER_DEFAULT_WORKER at most. */
export function workersForRun(workers: {count: number; byDefault?: boolean} | undefined, images: number): number {
  const count = Math.min(workers?.count ?? 1, images)
  return Math.max(1, workers?.byDefault ? Math.min(count, Math.floor(images / IMAGES_PER_DEFAULT_WORKER)) : count)
}

export const WORKERS_HELP =
  'Worker processes on this machine, each with its own SAM session and --threads split between them ' +
  '(default on the CPU: one per core of --threads, one thread each, and one per 6 images at most; 1 on a GPU; see docs/scale.md). ' +
  'The records are the same bytes for any count.'
