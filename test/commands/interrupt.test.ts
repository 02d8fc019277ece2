import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import * as path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import Curate from '../../commands/curate.js'
import Eval from '../../commands/eval.js'
import Export from '../../commands/export.js'
import Inspect from '../../commands/inspect.js'
import Merge from '../../commands/merge.js'
import Offsets from '../../commands/offsets.js'
import Serve from '../../commands/serve.js'
import Vocab from '../../commands/vocab.js'
import {BIN, type RunningCli, childrenOf, hasFile, running, startCli, waitFor} from '../helpers/processes.js'
import {shardTexts} from '../helpers/run-folder.js'
import {tempDirs} from '../helpers/temp-dirs.js'

// Ctrl-C and SIGTERM with the built CLI: exit 130 / 143, one line, --json's object, no worker left,
// and a rerun that resumes to the bytes of a run never interrupted (src/cli/interrupt.ts).
const tmp = tempDirs('getok-interrupt')
const started: RunningCli[] = []
afterAll(() => started.forEach((r) => r.child.exitCode === null && r.child.kill('SIGKILL')))

const OFFSETS = ['offsets', '-a', 'fixtures/coco/instances_val2017.json', '--limit', '20', '--shard-size', '1']
const CURATE = ['curate', '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--shard-size', '1']

describe('an interrupted run (CLI)', () => {
  it('Ctrl-C (SIGINT to the process group), --json, 2 workers: 130, one line, the JSON, no worker left; a rerun resumes', async () => {
    const clean = tmp('clean')
    expect(spawnSync(process.execPath, [BIN, ...OFFSETS, '-o', clean], {encoding: 'utf8'}).status).toBe(0)

    const out = tmp('sigint')
    const run = startCli([...OFFSETS, '-o', out, '--workers', '2', '--json'], true)
    started.push(run)
    // 20 images, one a shard: the first finished shard comes with 19 still to do
    expect(await waitFor(() => hasFile(out, '.stats.json'), 60_000)).toBe(true)
    const workers = childrenOf(run.child.pid!)
    expect(workers).toHaveLength(2)
    process.kill(-run.child.pid!, 'SIGINT')
    expect(await run.closed).toEqual({code: 130, signal: null})

    const line = /^interrupted \(SIGINT\): (\d+) of 20 images finished are kept; rerun the same command to resume\n$/.exec(run.stderr())
    expect(line, run.stderr()).not.toBeNull()
    const finished = Number(line![1])
    expect(finished).toBeGreaterThanOrEqual(1)
    expect(finished).toBeLessThan(20)
    const json = JSON.parse(run.stdout())
    expect(json).toEqual({
      interrupted: true,
      error: {message: run.stderr().trim(), exitCode: 130, signal: 'SIGINT', finished, total: 20},
    })
    // the workers went with it (a zombie not yet reaped by init counts as gone)
    expect(await waitFor(() => workers.every((p) => !running(p)), 2000)).toBe(true)
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)

    const rerun = spawnSync(process.execPath, [BIN, ...OFFSETS, '-o', out, '--json'], {encoding: 'utf8'})
    expect(rerun.status, rerun.stderr).toBe(0)
    // what the line called kept was not redone (a write that landed as the signal came is kept too)
    expect(JSON.parse(rerun.stdout).resumed).toBeGreaterThanOrEqual(finished)
    expect(shardTexts(out)).toEqual(shardTexts(clean))
  })

  it('SIGTERM during curate with SAM in this process: 143 and the one line, nothing on stdout, no manifest', async () => {
    const out = tmp('sigterm')
    const run = startCli([...CURATE, '-o', out, '--threads', '2'])
    started.push(run)
    expect(await waitFor(() => hasFile(out, '.stats.json'), 60_000)).toBe(true)
    run.child.kill('SIGTERM')
    expect(await run.closed).toEqual({code: 143, signal: null})
    // acted on once SAM gives the event loop back (the image in hand), so 1 to 3 of the 4 are finished
    expect(run.stderr()).toMatch(/^interrupted \(SIGTERM\): [1-3] of 4 images finished are kept; rerun the same command to resume\n$/)
    expect(run.stdout()).toBe('')
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)
  })

  it('is what the long-running commands do; serve keeps its own handling, vocab none', () => {
    expect([Curate, Offsets, Eval].map((c) => c.interrupt)).toEqual(['resume', 'resume', 'resume'])
    expect([Export, Merge, Inspect].map((c) => c.interrupt)).toEqual(['rerun', 'rerun', 'rerun'])
    expect([Serve, Vocab].map((c) => c.interrupt)).toEqual([undefined, undefined])
  })
})
