import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'

// What `npm i getok` (or a packed tarball) gives a user: `npm pack --dry-run` lists the files as npm would ship them.
const packed = (): string[] => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {encoding: 'utf8'})
  expect(r.status, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as {files: {path: string}[]}[])[0].files.map((f) => f.path)
}

describe('the npm package', () => {
  const files = packed()

  it('ships the CLI, its hook, the docs, the license and the reward client docs/rl.md tells users to call', () => {
    // before: clients/getok_reward.py was left out, so an installed getok lacked the client docs/rl.md shows
    for (const f of ['bin/run.js', 'dist/commands/curate.js', 'dist/src/cli/not-found.js', 'clients/getok_reward.py', 'docs/rl.md'])
      expect(files).toContain(f)
    expect(files).toContain('LICENSE')
  })

  it('leaves out what only a clone needs: sources, tests, fixtures and the benchmark scripts', () => {
    const outside = files.filter((f) => /^(src|test|fixtures|scripts|dist\/scripts|dist\/test)\//.test(f))
    expect(outside).toEqual([])
  })
})
