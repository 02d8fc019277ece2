import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll} from 'vitest'

/**
 * Temporary folders for one test file, all removed once its tests have run:
 *   const tmp = tempDirs('getok-eval-utf8')   …   tmp() → /tmp/getok-eval-utf8-Xy12ab, tmp('w0') → …-w0-…
 */
export function tempDirs(prefix: string): (tag?: string) => string {
  const made: string[] = []
  afterAll(() => made.forEach((dir) => rmSync(dir, {recursive: true, force: true})))
  return (tag) => {
    const dir = mkdtempSync(path.join(tmpdir(), `${prefix}${tag ? `-${tag}` : ''}-`))
    made.push(dir)
    return dir
  }
}
