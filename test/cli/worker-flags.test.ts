import {describe, expect, it} from 'vitest'
import {crossImageSetting, workerSetting} from '../../src/cli/worker-flags.js'

// --cross-image keeps its images in one process: how it meets --workers (docs/gpu.md, "Batching across images").
describe('crossImageSetting', () => {
  it.each([
    // --[no-]cross-image, --workers, --device → batching across images
    [undefined, undefined, 'cpu', false],
    [undefined, undefined, 'webgpu', true],
    [undefined, 1, 'webgpu', true],
    [undefined, 2, 'webgpu', false],
    [true, undefined, 'cpu', true],
    [true, 1, 'cpu', true],
    [false, undefined, 'webgpu', false],
    [false, 4, 'cuda', false],
  ] as const)('--cross-image %s, --workers %s, --device %s: %s', (given, workers, device, expected) => {
    expect(crossImageSetting(given, workers, device)).toBe(expected)
  })

  it('refuses --cross-image with --workers N > 1, naming both', () => {
    expect(() => crossImageSetting(true, 2, 'webgpu')).toThrow(/--workers 1.*got --workers 2/)
  })
})

describe('workerSetting', () => {
  it('an explicit --workers is taken as given, even where the run would stay in one process', () => {
    expect(workerSetting(3, 'cpu', 2, 'sam', true)).toEqual({count: 3, byDefault: false, sam: 'sam'})
  })

  it('the default: one a core of --threads on the CPU, one process for cross-image, one on a GPU', () => {
    expect(workerSetting(undefined, 'cpu', 2, null)).toEqual({count: 2, byDefault: true, sam: null})
    expect(workerSetting(undefined, 'cpu', 2, null, true)).toEqual({count: 1, byDefault: true, sam: null})
    expect(workerSetting(undefined, 'webgpu', 16, null)).toEqual({count: 1, byDefault: true, sam: null})
  })
})
