import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import * as path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {BIN} from '../helpers/processes.js'
import {manifestOf} from '../helpers/run-folder.js'
import {tempDirs} from '../helpers/temp-dirs.js'

// Commands that read another run's folder (src/pipeline/shared/input-folders.ts), through the built CLI: a folder
// a live run is writing is refused before anything is read; a shard not the bytes its manifest lists is read
// with a warning. Before, export read a curate folder mid-write, and an edited shard passed without a word.
const tmp = tempDirs('getok-input-lock')
// a bounded wait: a reader that is not refused may go on for good (serve listens)
const getok = (args: string[]) => spawnSync('node', [BIN, ...args], {encoding: 'utf8', timeout: 30_000})
const SAMPLE = ['-a', 'fixtures/sample/instances.json']
const IMAGES = ['-i', 'fixtures/sample/images']
const SHARD = 'curate-00000-of-00001.jsonl'
const LOCK = '.getok.lock'

/** A copy of a fixture folder under a fresh temporary folder. */
function copy(fixture: string): string {
  const dir = path.join(tmp(fixture), fixture)
  cpSync(path.join('fixtures', fixture), dir, {recursive: true})
  return dir
}

/** Every file of the folder with its bytes: what a reader must leave as it was. */
const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'latin1')]))

// real processes holding a lock for a test (a live pid), stopped at the end
const holders: ChildProcess[] = []
afterAll(() => holders.forEach((h) => h.kill('SIGKILL')))

/** Field 22 of /proc/<pid>/stat, as out-lock.ts writes it. */
function startTicks(pid: number): number | undefined {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
}

/** A lock in `dir` held by a live process (`sleep`), as a curate run writing it would hold it; its pid. */
function liveLock(dir: string): number {
  const sleeper = spawn('sleep', ['600'], {stdio: 'ignore'})
  holders.push(sleeper)
  const pid = sleeper.pid!
  const holder = {pid, hostname: hostname(), command: 'curate', started: new Date().toISOString(), start_ticks: startTicks(pid)}
  writeFileSync(path.join(dir, LOCK), JSON.stringify(holder) + '\n')
  return pid
}

const BEING_WRITTEN = (where: string, pid: number) =>
  new RegExp(
    `^Error: ${where.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: being written by getok curate \\(pid ${pid}, ` +
      'since \\d\\d:\\d\\d:\\d\\d\\); wait for it to finish, then rerun\\n$',
  )

describe('a folder another run is writing is not read', () => {
  // [reader, fixture copied and locked, the command's arguments, the folder's place in the message]
  const readers: [string, string, (input: string, out: string) => string[], (input: string) => string][] = [
    [
      'export --curated',
      'curated-sample',
      (d, out) => ['export', '--curated', d, '--format', 'swift', '-o', out],
      (d) => `--curated, ${d}`,
    ],
    [
      'export --offsets',
      'offsets-sample',
      (d, out) => ['export', '--curated', 'fixtures/curated-sample', '--offsets', d, '--format', 'swift', '-o', out],
      (d) => `--offsets, ${d}`,
    ],
    [
      'offsets --curated',
      'curated-sample',
      (d, out) => ['offsets', ...SAMPLE, '-n', '16', '--curated', d, '-o', out],
      (d) => `--curated, ${d}`,
    ],
    [
      'eval --curated',
      'curated-sample',
      (d, out) => ['eval', 'predictions.jsonl', ...SAMPLE, ...IMAGES, '--curated', d, '-o', out],
      (d) => `--curated, ${d}`,
    ],
    ['inspect <folder>', 'curated-sample', (d, out) => ['inspect', d, ...IMAGES, '-o', out], (d) => d],
    ['inspect <shard>', 'curated-sample', (d, out) => ['inspect', path.join(d, SHARD), ...IMAGES, '-o', out], (d) => d],
    ['inspect <manifest>', 'curated-sample', (d, out) => ['inspect', path.join(d, 'manifest.json'), ...IMAGES, '-o', out], (d) => d],
    ['inspect --eval', 'curated-sample', (d, out) => ['inspect', '--eval', d, ...IMAGES, '-o', out], (d) => `--eval, ${d}`],
    ['merge', 'offsets-sample', (d, out) => ['merge', d, '-o', out], (d) => d],
    ['serve --curated', 'curated-sample', (d) => ['serve', ...SAMPLE, ...IMAGES, '--curated', d, '--port', '0'], (d) => `--curated, ${d}`],
    // the folder is refused before its manifest is read: any copied folder stands for an export folder here
    ['serve --export', 'curated-sample', (d) => ['serve', ...SAMPLE, ...IMAGES, '--export', d, '--port', '0'], (d) => `--export, ${d}`],
    [
      'eval --reference',
      'curated-sample',
      (d, out) => ['eval', 'predictions.jsonl', ...SAMPLE, ...IMAGES, '--reference', path.join(d, SHARD), '-o', out],
      (d) => `--reference, ${d}`,
    ],
  ]

  it.each(readers)('%s: exit 2, one line naming the folder and its writer; nothing read, nothing written', (_, fixture, args, where) => {
    const input = copy(fixture)
    const pid = liveLock(input)
    const before = snapshot(input)
    const out = path.join(tmp('out'), 'out')
    const r = getok(args(input, out))
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toMatch(BEING_WRITTEN(where(input), pid))
    expect(snapshot(input)).toEqual(before) // the lock too: a reader never takes it over
    expect(existsSync(out)).toBe(false) // refused before its own --out was made
  })

  it("another host's lock is refused too, naming the host and the lock file", () => {
    const input = copy('curated-sample')
    writeFileSync(path.join(input, LOCK), JSON.stringify({pid: 1, hostname: 'n07', command: 'curate', started: '2025-01-02T03:04:05Z'}))
    const r = getok(['export', '--curated', input, '--format', 'swift', '-o', path.join(tmp('out'), 'out')])
    expect(r.status).toBe(2)
    expect(r.stderr).toContain(`--curated, ${input}: being written by getok curate on host n07 (pid 1, since 2025-01-0`)
    expect(r.stderr).toContain(`wait for it to finish, then rerun, or remove ${path.join(input, LOCK)} once that run is over`)
  })

  it.each([
    ['export', (d: string, out: string) => ['export', '--curated', d, '--format', 'swift', '-o', out]],
    ['offsets', (d: string, out: string) => ['offsets', ...SAMPLE, '-n', '16', '--curated', d, '-o', out]],
    ['merge', (d: string, out: string) => ['merge', d, '-o', out]],
  ])('%s: a lock left by a process that is gone is read past without a word, and left as it was', (_, args) => {
    const input = copy('curated-sample')
    const gone = spawnSync('node', ['-e', '']).pid // exited and reaped: no such process now
    const stale = JSON.stringify({pid: gone, hostname: hostname(), command: 'curate', started: new Date().toISOString()})
    writeFileSync(path.join(input, LOCK), stale)
    const r = getok(args(input, path.join(tmp('out'), 'out')))
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    expect(readFileSync(path.join(input, LOCK), 'utf8')).toBe(stale)
  })
})

describe('a shard that is not the bytes its manifest lists is read, with a warning', () => {
  const warning = (dir: string, change: string) =>
    `${path.join(dir, SHARD)}: not the bytes its manifest lists (12 records, ${change}); edited since curate wrote it?`
  const listed = 'd2b083f3' // fixtures/curated-sample's manifest

  it('export: one line on stderr naming the shard; --json and the manifest carry it; an unedited folder says nothing', () => {
    const edited = copy('curated-sample')
    const file = path.join(edited, SHARD)
    writeFileSync(file, readFileSync(file, 'utf8').replace('"iou":0.93705', '"iou":0.93706')) // the same size
    const out = path.join(tmp('out'), 'out')
    const r = getok(['export', '--curated', edited, '--format', 'swift', '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const line = warning(edited, `sha256 ${listed}… → ${sha8(file)}…`)
    expect(r.stderr).toBe(`warning: ${line}\n`)
    expect(JSON.parse(r.stdout).warnings).toEqual([line])
    expect(manifestOf(out).warnings).toEqual([line])

    const clean = path.join(tmp('out'), 'out')
    const c = getok(['export', '--curated', 'fixtures/curated-sample', '--format', 'swift', '-o', clean, '--json'])
    expect(c.status, c.stderr).toBe(0)
    expect(c.stderr).toBe('')
    expect(JSON.parse(c.stdout)).not.toHaveProperty('warnings')
    expect(manifestOf(clean)).not.toHaveProperty('warnings')
  })

  it('offsets --curated: the shards it hashes by name checked against the folder manifest; a line appended names the sizes', () => {
    const edited = copy('curated-sample')
    const file = path.join(edited, SHARD)
    writeFileSync(file, readFileSync(file, 'utf8') + '\n') // a blank line: the same records, other bytes
    const out = path.join(tmp('out'), 'out')
    const r = getok(['offsets', ...SAMPLE, '-n', '16', '--curated', edited, '-o', out, '--json'])
    expect(r.status, r.stderr).toBe(0)
    const line = warning(edited, `5492 bytes, sha256 ${listed}… → 5493 bytes, sha256 ${sha8(file)}…`)
    expect(r.stderr).toBe(`warning: ${line}\n`)
    expect(JSON.parse(r.stdout).warnings).toEqual([line])
    expect(manifestOf(out).warnings).toEqual([line])
    const cleanOut = path.join(tmp('out'), 'out')
    const clean = getok(['offsets', ...SAMPLE, '-n', '16', '--curated', 'fixtures/curated-sample', '-o', cleanOut, '--json'])
    expect(clean.status, clean.stderr).toBe(0)
    expect(clean.stderr).toBe('')
    expect(JSON.parse(clean.stdout)).not.toHaveProperty('warnings')
  })
})

function sha8(file: string): string {
  return spawnSync('sha256sum', [file], {encoding: 'utf8'}).stdout.slice(0, 8)
}
