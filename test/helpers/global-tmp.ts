import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'

/**
 * vitest's global setup: every temporary folder of a test run goes under one folder, removed when the
 * run ends. Tests make theirs with os.tmpdir(), which reads TMPDIR, and the CLI processes they start
 * inherit it; so a run leaves nothing in the machine's /tmp, whichever test forgot to clean up.
 */
export default function setup(): () => void {
  const root = mkdtempSync(path.join(tmpdir(), 'getok-test-run-'))
  process.env.TMPDIR = root
  return () => rmSync(root, {recursive: true, force: true})
}
