import {mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {HttpError} from '../../src/server/protocol.js'
import {imageInsideRoot} from '../../src/server/safe-path.js'

// root/ a.jpg, sub/b.jpg, inner -> a.jpg, sub/up -> ../a.jpg, out -> ../secret.txt, outdir -> .., dir/
let root: string
beforeAll(() => {
  const top = realpathSync(mkdtempSync(path.join(tmpdir(), 'getok-safe-path-')))
  root = path.join(top, 'root')
  mkdirSync(path.join(root, 'sub'), {recursive: true})
  mkdirSync(path.join(root, 'dir'))
  writeFileSync(path.join(top, 'secret.txt'), 'secret')
  writeFileSync(path.join(root, 'a.jpg'), 'a')
  writeFileSync(path.join(root, 'sub', 'b.jpg'), 'b')
  symlinkSync('a.jpg', path.join(root, 'inner'))
  symlinkSync('../a.jpg', path.join(root, 'sub', 'up'))
  symlinkSync('../secret.txt', path.join(root, 'out'))
  symlinkSync('..', path.join(root, 'outdir'))
})

async function refusal(rel: string): Promise<{status: number; message: string}> {
  try {
    await imageInsideRoot(root, rel, 'image')
  } catch (error) {
    if (error instanceof HttpError) return {status: error.status, message: error.message}
    throw error
  }
  throw new Error(`accepted ${rel}`)
}

describe('imageInsideRoot: no request reads outside --images', () => {
  it.each([
    ['a.jpg', 'a.jpg'],
    ['sub/b.jpg', 'sub/b.jpg'],
    ['./sub/b.jpg', 'sub/b.jpg'],
    ['inner', 'a.jpg'],
    ['sub/up', 'a.jpg'],
  ])('%s → %s (links that stay inside are followed)', async (rel, real) => {
    const got = await imageInsideRoot(root, rel, 'image')
    expect(got.file).toBe(path.join(root, real))
    expect(got.key.startsWith(path.join(root, real) + '\0')).toBe(true)
  })

  it.each([
    ['../secret.txt', 400, 'image: path with ".." (it must stay inside --images)'],
    ['sub/../../secret.txt', 400, 'image: path with ".." (it must stay inside --images)'],
    ['sub\\..\\..\\secret.txt', 400, 'image: path with ".." (it must stay inside --images)'],
    ['/etc/passwd', 400, 'image: absolute path (give it relative to --images)'],
    ['C:\\Windows\\win.ini', 400, 'image: absolute path (give it relative to --images)'],
    ['\\\\server\\share\\x.jpg', 400, 'image: absolute path (give it relative to --images)'],
    ['a.jpg\0.png', 400, 'image: path holds a NUL character'],
    ['out', 400, 'image: path leads outside --images (through a link)'],
    ['outdir/secret.txt', 400, 'image: path leads outside --images (through a link)'],
    ['missing.jpg', 422, 'image: no such image under --images'],
    ['a.jpg/x', 422, 'image: no such image under --images'],
    ['dir', 422, 'image: not a file'],
    ['.', 422, 'image: not a file'],
    ['x'.repeat(5000), 400, 'image: path longer than 4096 characters'],
  ])('%j → %d', async (rel, status, message) => {
    expect(await refusal(rel)).toEqual({status, message})
  })
})
