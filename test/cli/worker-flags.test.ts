import {describe, expect, it} from 'vitest'
import {crossImageSetting} from '../../src/cli/worker-flags.js'

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
