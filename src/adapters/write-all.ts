/**
 * Writes that land whole or fail. A write may put fewer bytes on disk than it was given (a disk that
 * fills, a file-size limit such as `ulimit -f`) and say so only in bytesWritten; the next write then
 * fails (ENOSPC, EFBIG). writeAll loops until every byte is written, so a short write is never taken for
 * a whole one. Node ignores SIGXFSZ, so a file-size limit is the EFBIG error, not a killed process.
 */
import type {FileHandle} from 'node:fs/promises'
import {GetokError, errorCode} from '../core/errors.js'

/** Write every byte of `data` at the handle's position (its end, for a file opened to append). */
export async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) {
    const {bytesWritten} = await handle.write(data, at, data.length - at)
    // a regular file never takes 0 bytes without an error; were it to, looping would never end
    if (!(bytesWritten > 0)) throw new Error('no bytes written')
    at += bytesWritten
  }
}

/** A failed write, open, sync or close as the one-line error (`<file>: cannot write the file (ENOSPC)`); a GetokError as it is. */
export function cannotWrite(error: unknown, file: string): GetokError {
  if (error instanceof GetokError) return error
  return new GetokError(`cannot write the file (${errorCode(error)})`, {file})
}

/** Run `step`, turning its failure into cannotWrite's error naming `file`. */
export async function writing<T>(file: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (error) {
    throw cannotWrite(error, file)
  }
}
