import {describe, expect, it} from 'vitest'
import {childrenOf, hasFile, startCli, waitFor} from '../../helpers/processes.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// Worker processes and their parent going away (built CLI, offsets: no SAM, 50 images one a shard).
const tmp = tempDirs('getok-worker-exit')
const OFFSETS = ['offsets', '-a', 'fixtures/coco/instances_val2017.json', '--shard-size', '1', '--workers', '2']

describe('a worker whose parent was killed -9', () => {
  // it was busy: its answer could not be sent, and it printed "Error: write EPIPE … Unhandled 'error' event" with a
  // stack (in 5 runs of 7 before the fix); several runs, since the moment the parent dies decides what a worker is doing
  it('exits saying nothing, also in the middle of an image', async () => {
    for (let round = 0; round < 3; round++) {
      const out = tmp(`parent-killed-${round}`)
      const run = startCli([...OFFSETS, '-o', out])
      expect(await waitFor(() => hasFile(out, '.journal'), 60_000)).toBe(true)
      run.child.kill('SIGKILL')
      // closed: every writer of the stderr pipe, the workers too, has exited
      expect(await run.closed).toEqual({code: null, signal: 'SIGKILL'})
      expect(run.stderr()).toBe('')
    }
  })
})

describe('a worker that dies: an error that is no user error', () => {
  const killFirstWorker = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const saved = {...process.env}
    Object.assign(process.env, env)
    const run = startCli([...OFFSETS, '-o', tmp('worker-killed'), ...args])
    process.env = saved
    let worker = 0
    expect(await waitFor(() => (worker = childrenOf(run.child.pid!)[0] ?? 0) > 0, 30_000)).toBe(true)
    process.kill(worker, 'SIGKILL')
    return {...(await run.closed), stdout: run.stdout(), stderr: run.stderr(), worker}
  }
  const STOPPED = (pid: number) =>
    new RegExp(`^Error: offsets worker \\d \\(pid ${pid}\\) stopped (before it was ready )?\\(signal SIGKILL\\)[^\\n]*\\n`)

  it('is one unwrapped line, exit 1; with --json also the {"error"} object on stdout', async () => {
    // oclif hard-wrapped the line at 74 columns (no terminal), and with --json printed nothing on stderr
    const plain = await killFirstWorker([])
    expect(plain.code).toBe(1)
    expect(plain.stderr).toMatch(new RegExp(STOPPED(plain.worker).source + '$'))
    const json = await killFirstWorker(['--json'])
    expect(json.code).toBe(1)
    expect(json.stderr).toMatch(new RegExp(STOPPED(json.worker).source + '$'))
    expect(JSON.parse(json.stdout)).toMatchObject({error: {message: json.stderr.slice('Error: '.length).trim(), exitCode: 1}})
  })

  it('is followed by its stack trace with GETOK_DEBUG=1', async () => {
    const r = await killFirstWorker([], {GETOK_DEBUG: '1'})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(STOPPED(r.worker))
    // the line once, then the trace
    expect(r.stderr).toMatch(/^Error: [^\n]*\n(\s+at [^\n]+\n)+$/)
    expect(r.stderr).toMatch(/\n\s+at .*pool\.(js|ts):\d+:\d+/)
  })
})
