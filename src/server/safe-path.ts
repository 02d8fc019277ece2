/**
 * An image path a client sent → a file inside the image root, or an HttpError. In order:
 *   1. the text: relative, no ".." segment (either slash), no NUL, not absolute (POSIX or Windows)
 *   2. the file: its real path (every symlink resolved) must still be inside the root's real path,
 *      and be a regular file
 * so no request reads a file outside --images (SPEC §10), whatever links the folder holds.
 *
 * Synchronous on purpose (two cheap system calls): onnxruntime-node runs inference on the main
 * thread, so the server reads requests only between decoder runs, and a request that reaches the
 * batcher in the same turn of the event loop joins the next decoder pass (pipeline/serve/batcher.ts).
 */
import {realpathSync, statSync} from 'node:fs'
import * as path from 'node:path'
import {HttpError} from './protocol.js'

export interface ImageFile {
  /** the resolved path, inside the root */
  file: string
  /** identity of the file's contents as far as the cache is concerned: real path, size, mtime */
  key: string
}

const MAX_PATH_CHARS = 4096

/** `rootReal` must already be a real path (realpath of --images). `status` is the code for a refused path. */
export function imageInsideRoot(rootReal: string, relative: string, where: string, status = 400): ImageFile {
  const refuse = (why: string) => new HttpError(status, `${where}: ${why}`)
  if (relative.length > MAX_PATH_CHARS) throw refuse(`path longer than ${MAX_PATH_CHARS} characters`)
  if (relative.includes('\0')) throw refuse('path holds a NUL character')
  if (path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative)) throw refuse('absolute path (give it relative to --images)')
  if (relative.split(/[\\/]/).includes('..')) throw refuse('path with ".." (it must stay inside --images)')
  let real: string
  try {
    real = realpathSync(path.join(rootReal, relative))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new HttpError(
      422,
      `${where}: ${code === 'ENOENT' || code === 'ENOTDIR' ? 'no such image under --images' : `cannot open (${code})`}`,
    )
  }
  const inside = path.relative(rootReal, real)
  if (inside === '') throw new HttpError(422, `${where}: not a file`)
  if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside))
    throw refuse('path leads outside --images (through a link)')
  const info = statSync(real)
  if (!info.isFile()) throw new HttpError(422, `${where}: not a file`)
  return {file: real, key: `${real}\0${info.size}\0${info.mtimeMs}`}
}
