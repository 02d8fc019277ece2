/** Where SAM runs, without loading onnxruntime: flags and defaults need these before any model is. */
export type Device = 'cpu' | 'cuda' | 'webgpu'
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu']

/**
 * Prompts per decoder run when none is asked for: batching buys nothing on the CPU, whose cores the
 * arithmetic of one prompt already fills; on a GPU 16 was the best measured (WebGPU on an H200:
 * 10.0 ms a prompt one by one, 1.8 at 16, slower again past it; docs/gpu.md).
 */
export function defaultBatch(device: Device): number {
  return device === 'cpu' ? 1 : 16
}
