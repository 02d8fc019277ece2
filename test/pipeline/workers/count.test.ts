import {describe, expect, it} from 'vitest'
import {defaultWorkers, threadsPerWorker, workersForRun} from '../../../src/pipeline/workers/count.js'

const GiB = 2 ** 30

// The default --workers (docs/scale.md, "Worker processes"): one a core of --threads on the CPU, capped by 1 GiB each; one on a GPU.
describe('defaultWorkers', () => {
  it.each([
    // device, --threads, cores, memory → workers
    ['cpu', undefined, 2, 24 * GiB, 2],
    ['cpu', undefined, 16, 128 * GiB, 16],
    ['cpu', 4, 16, 128 * GiB, 4],
    ['cpu', 1, 2, 24 * GiB, 1],
    ['cpu', 8, 2, 24 * GiB, 2],
    ['cpu', undefined, 16, 6.5 * GiB, 6],
    ['cpu', undefined, 4, 0.5 * GiB, 1],
    ['cpu', undefined, 1, 24 * GiB, 1],
    ['webgpu', undefined, 16, 128 * GiB, 1],
    ['cuda', 16, 16, 128 * GiB, 1],
  ] as const)('%s, --threads %s, %i cores, %d bytes: %i', (device, threads, cores, memory, expected) => {
    expect(defaultWorkers(device, threads, cores, memory)).toBe(expected)
  })
})

describe('threadsPerWorker', () => {
  it.each([
    [2, 2, 1],
    [2, 1, 2],
    [16, 6, 2],
    [1, 4, 1],
    [7, 2, 3],
  ])('%i threads over %i workers: %i each', (total, workers, expected) => {
    expect(threadsPerWorker(total, workers)).toBe(expected)
  })
})

describe('workersForRun', () => {
  it.each([
    // --workers, given by default?, images of the run → processes
    [2, true, 4, 1],
    [2, true, 8, 1],
    [2, true, 12, 2],
    [2, true, 48, 2],
    [16, true, 40, 6],
    [2, false, 4, 2],
    [8, false, 3, 3],
    [4, false, 1, 1],
    [2, true, 0, 1],
  ])('--workers %i (default: %s) over %i images: %i', (count, byDefault, images, expected) => {
    expect(workersForRun({count, byDefault}, images)).toBe(expected)
  })

  it('is one process without a worker setting', () => {
    expect(workersForRun(undefined, 100)).toBe(1)
  })
})
