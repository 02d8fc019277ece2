import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {manifestOf, shardTexts} from '../helpers/run-folder.js'
import {tempDirs} from '../helpers/temp-dirs.js'

// One run at a time per --out (src/adapters/out-lock.ts), through the built CLI. Two offsets runs into one
// folder (no SAM) duplicated records and wrote a manifest that lied; the other died on a raw ENOENT.
const BIN = path.resolve('bin/run.js')
const VAL = ['-a', 'fixtures/coco/instances_val2017.json', '--shard-size', '5'] // 50 images: ~3 s
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '--shard-size', '1']
const tmp = tempDirs('getok-out-lock')
const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
const lockFile = (dir: string) => path.join(dir, '.getok.lock')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Ran {
  status: number | null
  stderr: string
  pid: number
}

function start(args: string[]): {child: ChildProcess; done: Promise<Ran>} {
  const child = spawn('node', [BIN, ...args], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const done = new Promise<Ran>((resolve) => child.on('close', (status) => resolve({status, stderr, pid: child.pid!})))
  return {child, done}
}

/** Every file of the folder with its bytes: what a refused run must leave as it was. */
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'latin1')]))

// processes that hold a lock for a test (a live pid), stopped at the end
const holders: ChildProcess[] = []
afterAll(() => holders.forEach((h) => h.kill('SIGKILL')))
function liveProcess(): number {
  const h = spawn('node', ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
  holders.push(h)
  return h.pid!
}
const writeLock = (dir: string, pid: number, extra: object = {}) =>
  writeFileSync(lockFile(dir), JSON.stringify({pid, hostname: hostname(), command: 'offsets', started: new Date().toISOString(), ...extra}))

const IN_USE = (dir: string, pid: number, command = 'offsets') =>
  new RegExp(`--out, ${dir}: in use by getok ${command} \\(pid ${pid}, since \\d\\d:\\d\\d:\\d\\d\\); wait for it or use another --out\\n`)

describe('one getok run per output folder', () => {
  let reference: string // an uninterrupted run over tiny-coco val
  beforeAll(() => {
    reference = path.join(tmp('reference'), 'out')
    expect(getok(['offsets', ...VAL, '-o', reference]).status).toBe(0)
  })

  it('a second run while the first holds the folder stops at once (exit 2, naming it); the first writes an uninterrupted run', async () => {
    const out = path.join(tmp('held'), 'out')
    const first = start(['offsets', ...VAL, '-o', out])
    let held = false
    while (!held && first.child.exitCode === null) {
      held = existsSync(lockFile(out))
      if (!held) await sleep(2)
    }
    expect(held).toBe(true) // taken before the annotations are read: the run has seconds left
    first.child.kill('SIGSTOP') // it holds the folder as long as it lives
    const before = snapshot(out)
    const second = getok(['offsets', ...VAL, '-o', out])
    expect(second.status).toBe(2)
    expect(second.stderr).toMatch(IN_USE(out, first.child.pid!))
    expect(snapshot(out)).toEqual(before)
    first.child.kill('SIGCONT')
    const ran = await first.done
    expect(ran.status, ran.stderr).toBe(0)
    expect(shardTexts(out)).toEqual(shardTexts(reference))
    expect(manifestOf(out).summary).toEqual(manifestOf(reference).summary)
    expect(existsSync(lockFile(out))).toBe(false)
  })

  it('two runs started at once: one writes, the other is refused or finds it finished; the shards are an uninterrupted run', async () => {
    const out = path.join(tmp('race'), 'out')
    const runs = await Promise.all([start(['offsets', ...VAL, '-o', out]), start(['offsets', ...VAL, '-o', out])].map((r) => r.done))
    expect(runs.some((r) => r.status === 0)).toBe(true)
    for (const [k, r] of runs.entries()) if (r.status !== 0) expect(r.stderr).toMatch(IN_USE(out, runs[1 - k].pid))
    expect(shardTexts(out)).toEqual(shardTexts(reference))
    const manifest = manifestOf(out)
    expect(manifest.summary).toEqual(manifestOf(reference).summary)
    expect(manifest.shards.map((s: {file: string}) => s.file)).toEqual(shardTexts(out).map(([f]) => f))
  })

  it('a lock left by a process that is gone (kill -9) is taken over without a word, and removed at the end', () => {
    const out = tmp('stale')
    const gone = spawnSync('node', ['-e', '']).pid // exited and reaped: no such process now
    writeLock(out, gone)
    const r = getok(['offsets', ...SAMPLE, '-o', out])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(existsSync(lockFile(out))).toBe(false)
    expect(manifestOf(out).command).toBe('offsets')
  })

  it.each([
    ['offsets', (out: string) => ['offsets', ...SAMPLE, '-o', out]],
    ['curate', (out: string) => ['curate', ...SAMPLE, '-i', 'fixtures/sample/images', '-o', out]],
    ['eval', (out: string) => ['eval', 'predictions.jsonl', ...SAMPLE, '-i', 'fixtures/sample/images', '-o', out]],
    ['export', (out: string) => ['export', '--curated', 'fixtures/curated-sample', '--format', 'swift', '-o', out]],
    ['merge', (out: string) => ['merge', 'fixtures/offsets-sample', '-o', out]],
    ['inspect', (out: string) => ['inspect', 'fixtures/curated-sample', '-i', 'fixtures/sample/images', '-o', out]],
  ])('a live lock stops %s before it reads or writes anything in --out (exit 2, one line)', (_, args) => {
    const out = tmp('live')
    const pid = liveProcess()
    writeLock(out, pid)
    writeFileSync(path.join(out, 'notes.txt'), 'mine')
    const before = snapshot(out)
    const r = getok(args(out))
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(IN_USE(out, pid))
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(snapshot(out)).toEqual(before)
  })

  it('--overwrite never removes a live lock: refused, and the folder of another configuration kept whole', () => {
    const out = path.join(tmp('overwrite'), 'out')
    expect(getok(['offsets', ...SAMPLE, '-o', out, '--seed', '1']).status).toBe(0)
    const pid = liveProcess()
    writeLock(out, pid)
    const before = snapshot(out)
    const r = getok(['offsets', ...SAMPLE, '-o', out, '--seed', '2', '--overwrite'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(IN_USE(out, pid))
    expect(snapshot(out)).toEqual(before)
  })

  it('a lock made on another host counts as live, also under --overwrite; the message names the host and the file to remove', () => {
    const out = tmp('other-host')
    writeFileSync(lockFile(out), JSON.stringify({pid: 1, hostname: 'n07', command: 'curate', started: '2025-01-02T03:04:05Z'}))
    const r = getok(['offsets', ...SAMPLE, '-o', out, '--overwrite'])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`--out, ${out}: in use by getok curate on host n07 (pid 1, since 2025-01-0`)
    expect(r.stderr).toContain(`or remove ${lockFile(out)} once that run is over`)
    expect(readdirSync(out)).toEqual(['.getok.lock'])
  })

  it("a rerun removes what killed runs left (temporary files of getok's names, a finished shard's journal), no file of the user", () => {
    const out = path.join(tmp('leftovers'), 'out')
    expect(getok(['offsets', ...SAMPLE, '-o', out]).status).toBe(0)
    const finished = snapshot(out)
    const left = [
      'manifest.json.tmp-4242', // killed while writing the manifest
      'offsets-00001-of-00004.stats.json.tmp-4242', // … a shard's stats
      'offsets-00001-of-00004.journal', // … between the stats and the journal's removal
      'run.json.tmp-17',
      'pic.png.tmp-4242', // inspect
      'swift-train.jsonl.tmp-4242', // export
    ]
    const mine = ['notes.tmp-4242', 'offsets-00001-of-00004.journal.bak', 'pic.png']
    for (const f of mine) writeFileSync(path.join(out, f), 'mine')
    for (const overwrite of [[], ['--overwrite']]) {
      for (const f of left) writeFileSync(path.join(out, f), '{"cut":')
      const r = getok(['offsets', ...SAMPLE, '-o', out, ...overwrite])
      expect(r.status, r.stderr).toBe(0)
      expect(readdirSync(out).sort()).toEqual([...Object.keys(finished), ...mine].sort())
      const kept = snapshot(out)
      for (const [f, bytes] of Object.entries(finished)) if (f !== 'manifest.json') expect(kept[f]).toBe(bytes)
    }
  })
})
