import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

// getok curate --workers N with the built CLI (npm test builds first) and the real model, on the
// four sample photos at --grid 16, three images to a shard (so shard 0 holds units that finish out of order).
const BIN = path.resolve('bin/run.js')
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const SMALL = ['--grid', '16', '--shard-size', '3', '--threads', '2']

const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-workers-${name}-`))
const started: ChildProcess[] = []
const strays: number[] = []

function curate(out: string, workers: number, extra: string[] = [], images = IMAGES) {
  const limit = extra.includes('--limit') ? [] : ['--limit', '4']
  const args = [BIN, 'curate', '-a', ANN, '-i', images, '-o', out, ...SMALL, ...limit, '--workers', String(workers), ...extra]
  const r = spawnSync('node', args, {
    encoding: 'utf8',
  })
  return {code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\s+/g, ' ')}
}

/** Every file of a finished run folder but run.json and manifest.json, by name, as bytes. */
function shardFiles(dir: string): Map<string, Buffer> {
  const names = readdirSync(dir)
    .filter((f) => f !== 'manifest.json' && f !== 'run.json')
    .sort()
  return new Map(names.map((f) => [f, readFileSync(path.join(dir, f))]))
}

const manifestOf = (dir: string) => {
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
  delete m.created
  return m
}

const childrenOf = (pid: number) =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], {encoding: 'utf8'})
    .stdout.split('\n')
    .map((s) => Number(s.trim()))
    .filter((p) => p > 0)

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitFor(test: () => boolean, ms: number, step = 100): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, step))) if (test()) return true
  return test()
}

const journalled = (dir: string) =>
  existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.journal') && readFileSync(path.join(dir, f), 'utf8').includes('\n'))

describe('curate --workers (CLI, real SAM)', () => {
  const one = tmp('one')
  const two = tmp('two')

  beforeAll(() => {
    expect(curate(one, 1).code).toBe(0)
    expect(curate(two, 2).code).toBe(0)
  })

  afterAll(() => {
    for (const child of started) child.kill('SIGKILL')
    for (const pid of strays) if (alive(pid)) process.kill(pid, 'SIGKILL')
  })

  it('writes with 2 workers the bytes of every shard file that 1 worker writes, and the same manifest', () => {
    const a = shardFiles(one)
    const b = shardFiles(two)
    expect([...b.keys()]).toEqual([
      'curate-00000-of-00002.jsonl',
      'curate-00000-of-00002.stats.json',
      'curate-00001-of-00002.jsonl',
      'curate-00001-of-00002.stats.json',
    ])
    expect([...b.keys()]).toEqual([...a.keys()])
    for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true)
    const records = (dir: string) => readFileSync(path.join(dir, 'curate-00000-of-00002.jsonl'), 'utf8').split('\n').filter(Boolean)
    // shard 0 holds the three lowest image ids, in id order, with records
    expect([...new Set(records(two).map((l) => JSON.parse(l).image_id))]).toEqual([25560, 184321, 219578])
    expect(manifestOf(two)).toEqual(manifestOf(one))
    expect(manifestOf(two).model.hash).toMatch(/^[0-9a-f]{16}$/)
    // the worker count is not part of the configuration: a folder begun with 2 workers resumes with 1
    expect(readFileSync(path.join(two, 'run.json'), 'utf8')).toBe(readFileSync(path.join(one, 'run.json'), 'utf8'))
    const again = curate(two, 1, ['--json'])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout).resumed).toBe(4)
  })

  it('leaves no worker behind when the parent is killed with -9, and a rerun writes the same bytes', async () => {
    const out = tmp('killed')
    const child = spawn('node', [BIN, 'curate', '-a', ANN, '-i', IMAGES, '-o', out, ...SMALL, '--limit', '4', '--workers', '2'], {
      stdio: 'ignore',
    })
    started.push(child)
    const exited = new Promise((resolve) => child.on('exit', resolve))
    expect(await waitFor(() => journalled(out), 120_000)).toBe(true)
    const workers = childrenOf(child.pid!)
    strays.push(...workers)
    expect(workers).toHaveLength(2)
    process.kill(child.pid!, 'SIGKILL')
    await exited
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)
    // a worker notices between two SAM runs (onnxruntime-node runs block its event loop), a few seconds under load
    expect(await waitFor(() => workers.every((p) => !alive(p)), 20_000)).toBe(true)
    const rerun = curate(out, 2, ['--json'])
    expect(rerun.code).toBe(0)
    expect(JSON.parse(rerun.stdout).resumed).toBeGreaterThanOrEqual(1)
    const a = shardFiles(one)
    const b = shardFiles(out)
    expect([...b.keys()]).toEqual([...a.keys()])
    for (const [name, bytes] of a) expect(b.get(name)!.equals(bytes), name).toBe(true)
  })

  it('fails the run, naming the worker and its image, when a worker dies; no worker is left', async () => {
    const out = tmp('worker-killed')
    const child = spawn('node', [BIN, 'curate', '-a', ANN, '-i', IMAGES, '-o', out, ...SMALL, '--limit', '4', '--workers', '2'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    started.push(child)
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(await waitFor(() => journalled(out), 120_000)).toBe(true)
    const workers = childrenOf(child.pid!)
    strays.push(...workers)
    process.kill(workers[0], 'SIGKILL')
    expect(await exited).not.toBe(0)
    expect(stderr.replace(/\s+/g, ' ')).toMatch(new RegExp(`curate worker \\d \\(pid ${workers[0]}\\) stopped \\(signal SIGKILL\\)`))
    expect(await waitFor(() => workers.every((p) => !alive(p)), 20_000)).toBe(true)
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)
  })

  it('turns an unreadable image into skips under workers as with one, and --strict stops on it with the same message', () => {
    const images = tmp('images')
    cpSync(IMAGES, images, {recursive: true})
    // the second of the two lowest ids (25560, 184321), so --limit 2 covers it
    writeFileSync(path.join(images, '000000184321.jpg'), 'not a JPEG at all')
    const [a, b] = [tmp('bad-one'), tmp('bad-two')]
    expect(curate(a, 1, ['--limit', '2'], images).code).toBe(0)
    expect(curate(b, 2, ['--limit', '2'], images).code).toBe(0)
    const skips = manifestOf(b).skips as {image_id: number; reason: string}[]
    expect(skips.length).toBeGreaterThan(0)
    expect(new Set(skips.map((s) => s.image_id))).toEqual(new Set([184321]))
    expect(skips[0].reason).toContain('000000184321.jpg')
    expect(manifestOf(b)).toEqual(manifestOf(a))
    for (const [name, bytes] of shardFiles(a)) expect(shardFiles(b).get(name)!.equals(bytes), name).toBe(true)

    const strict = ['--strict', '--limit', '2']
    const [sa, sb] = [curate(tmp('strict-one'), 1, strict, images), curate(tmp('strict-two'), 2, strict, images)]
    expect([sa.code, sb.code]).toEqual([2, 2])
    expect(sb.stderr).toContain('000000184321.jpg')
    expect(sb.stderr).toBe(sa.stderr)
  })
})
