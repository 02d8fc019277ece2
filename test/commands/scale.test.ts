import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

// Many machines and crashes, with the built CLI (npm test builds first) and the real model,
// on 2 real images at --grid 16, one image per shard.
const BIN = path.resolve('bin/run.js')
const SMALL = ['-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--grid', '16', '--image-ids', '443303,184321', '--shard-size', '1']
// worker shares of these ids (FNV-1a mod 3): 184321 → 0, 443303 → 2, worker 1 gets none
const WORKERS = 3

type Rec = Record<string, unknown> & {image_id: number; ann_id: number}

const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-${name}-`))

function getok(args: string[]) {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\s+/g, ' ')}
}

function run(args: string[]): Promise<number | null> {
  const child = spawn('node', [BIN, ...args], {stdio: 'ignore'})
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
}

/** Every record of a folder's shards, in image-id order (stable within an image). */
function recordsOf(dir: string): Rec[] {
  const lines = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
  return lines.map((l) => JSON.parse(l) as Rec).sort((a, b) => a.image_id - b.image_id)
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))
const sortedSkips = (skips: {ann_id: number}[]) => [...skips].sort((a, b) => a.ann_id - b.ann_id)

describe('many machines and crashes (CLI, real SAM)', () => {
  const single = tmp('single')
  const root = tmp('workers')
  const workerDir = (i: number) => path.join(root, `w${i}`)

  beforeAll(async () => {
    // the reference run and the workers, all at once, as a cluster would start them
    const codes = await Promise.all([
      run(['curate', ...SMALL, '-o', single, '--threads', '1']),
      ...Array.from({length: WORKERS}, (_, i) => run(['curate', ...SMALL, '-o', workerDir(i), '--shard-index', String(i), '--shard-count', String(WORKERS), '--threads', '1'])),
    ])
    expect(codes).toEqual([0, 0, 0, 0])
  })

  it('gives workers disjoint shares with their own shard names, and merges them into exactly the single run', () => {
    const perWorker = Array.from({length: WORKERS}, (_, i) => recordsOf(workerDir(i)).map((r) => r.image_id))
    expect(perWorker.map((ids) => [...new Set(ids)])).toEqual([[184321], [], [443303]])
    expect(readdirSync(workerDir(2)).filter((f) => f.endsWith('.jsonl'))).toEqual(['curate-w002-00000-of-00001.jsonl'])
    expect(manifestOf(workerDir(2)).config).toMatchObject({shard_index: 2, shard_count: 3, annotations_images: 2})

    const out = path.join(root, 'merged')
    const merged = getok(['merge', ...[0, 1, 2].map(workerDir), '--out', out, '--json'])
    expect(merged.code).toBe(0)
    expect(JSON.parse(merged.stdout)).toMatchObject({workers: 3, shards: 3, records: recordsOf(single).length})
    expect(recordsOf(out)).toEqual(recordsOf(single))
    const [a, b] = [manifestOf(single), manifestOf(out)]
    expect(b.summary).toEqual(a.summary)
    expect(b.config).toEqual(a.config)
    expect(sortedSkips(b.skips)).toEqual(sortedSkips(a.skips))
    expect(b.model).toEqual(a.model)
  })

  describe('merge refuses broken or mismatched inputs, naming what is wrong', () => {
    /** A copy of the worker folders (and the single run) to tamper with. */
    function copies(): {w: string[]; single: string} {
      const dir = tmp('tamper')
      const w = [0, 1, 2].map((i) => {
        cpSync(workerDir(i), path.join(dir, `w${i}`), {recursive: true})
        return path.join(dir, `w${i}`)
      })
      cpSync(single, path.join(dir, 'single'), {recursive: true})
      return {w, single: path.join(dir, 'single')}
    }
    const editManifest = (dir: string, edit: (m: Record<string, any>) => void) => {
      const m = manifestOf(dir)
      edit(m)
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m))
    }
    const shardOf = (dir: string) => path.join(dir, readdirSync(dir).find((f) => f.endsWith('.jsonl'))!)

    it.each<[string, (c: {w: string[]; single: string}) => string[], RegExp]>([
      ['a missing worker', (c) => [c.w[0], c.w[2]], /missing worker 1 of 3: merge needs the folder of every worker/],
      ['a worker given twice', (c) => {
        cpSync(c.w[0], `${c.w[0]}-again`, {recursive: true})
        return [...c.w, `${c.w[0]}-again`]
      }, /w0-again, field "shard_index": worker 0 of 3 is given twice/],
      ['the same folder twice', (c) => [...c.w, c.w[1]], /w1: the same folder is given twice/],
      ['an unfinished worker', (c) => (rmSync(path.join(c.w[1], 'manifest.json')), c.w), /w1: no manifest\.json: this run has not finished/],
      ['another τ', (c) => (editManifest(c.w[2], (m) => (m.config.tau = 0.9)), c.w), /w2, field "config\.tau": not the same run: config\.tau is 0\.8 in .*w0 but 0\.9 here/],
      ['another model', (c) => (editManifest(c.w[1], (m) => (m.model.hash = '0123456789abcdef')), c.w), /w1, field "model\.hash": not the same run/],
      ['another tool version', (c) => (editManifest(c.w[1], (m) => (m.tool.version = '9.9.9')), c.w), /field "tool\.version"/],
      ['an unsharded run among workers', (c) => [...c.w, c.single], /single, field "config\.shard_count": not the same run/],
      ['a changed shard', (c) => {
        const f = shardOf(c.w[0])
        writeFileSync(f, readFileSync(f, 'utf8').replace(/"iou":0\.\d/, '"iou":0.1'))
        return c.w
      }, /curate-w000-00000-of-00001\.jsonl, field "sha256": shard checksum differs from manifest\.json/],
      ['a truncated shard', (c) => {
        const f = shardOf(c.w[2])
        writeFileSync(f, readFileSync(f).subarray(0, 100))
        return c.w
      }, /curate-w002-00000-of-00001\.jsonl, field "bytes": shard size differs from manifest\.json .*expected \d+ bytes, got 100/],
      ['a missing shard file', (c) => (rmSync(shardOf(c.w[2])), c.w), /curate-w002-00000-of-00001\.jsonl: shard listed in manifest\.json is missing/],
      ['a wrong record count', (c) => (editManifest(c.w[0], (m) => (m.shards[0].records = 5)), c.w), /field "records": shard record count differs from manifest\.json: expected 5, got 1/],
      ['a shard left out of a manifest', (c) => (editManifest(c.single, (m) => m.shards.pop()), [c.single]), /field "shards": incomplete shard list: 1 listed of 2, missing shard 1/],
      ['the same images twice', (c) => {
        cpSync(c.single, `${c.single}-again`, {recursive: true})
        return [c.single, `${c.single}-again`]
      }, /single-again.*field "image_id": duplicate image id \d+: also in .*single/],
    ])('%s', (_, make, message) => {
      const out = path.join(tmp('merge-out'), 'out')
      const r = getok(['merge', ...make(copies()), '--out', out])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
      expect(existsSync(path.join(out, 'manifest.json'))).toBe(false)
    })

    it('a non-empty --out, unless --overwrite', () => {
      const out = tmp('merge-full')
      writeFileSync(path.join(out, 'notes.txt'), 'mine')
      const dirs = [0, 1, 2].map(workerDir)
      expect(getok(['merge', ...dirs, '--out', out]).stderr).toMatch(/output folder is not empty \(has notes\.txt\); use another --out or --overwrite/)
      expect(getok(['merge', ...dirs, '--out', out, '--overwrite']).code).toBe(0)
      expect(getok(['merge', ...dirs, '--out', workerDir(0)]).stderr).toMatch(/--out is one of the input folders/)
    })
  })

  it('refuses to reuse a folder for another worker or another split, unless --overwrite', () => {
    const again = getok(['curate', ...SMALL, '-o', workerDir(1), '--shard-index', '0', '--shard-count', '3'])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/different configuration \(shard_index: 1 → 0\) \(each worker of a sharded run needs its own --out\)/)
    expect(getok(['curate', ...SMALL, '-o', workerDir(1), '--shard-index', '1', '--shard-count', '4']).stderr).toMatch(/shard_count: 3 → 4/)
    expect(getok(['curate', ...SMALL, '-o', single, '--shard-index', '0', '--shard-count', '2']).stderr).toMatch(/shard_index: undefined → 0; shard_count: undefined → 2/)
    expect(getok(['curate', ...SMALL, '-o', tmp('bad-index'), '--shard-index', '3', '--shard-count', '3']).stderr).toMatch(/field "shard-index": bad worker index: expected an integer from 0 to 2/)
  })

  it('survives SIGKILL at random moments, several times: the restarted run ends with exactly the uninterrupted records', async () => {
    const seed = Number(process.env.GETOK_KILL_SEED ?? 20251125)
    const random = lcg(seed)
    const kills: string[] = []
    // one cycle: kill at random moments and restart until a run finishes; more cycles until enough kills
    for (let cycle = 0; cycle < 3 && kills.length < 4; cycle++) {
      const dir = tmp('kill')
      kills.push(...(await killAndRestartUntilDone(dir, random)))
      expect(recordsOf(dir)).toEqual(recordsOf(single))
      for (const f of readdirSync(single).filter((f) => f.endsWith('.jsonl'))) {
        expect(readFileSync(path.join(dir, f), 'utf8')).toBe(readFileSync(path.join(single, f), 'utf8'))
      }
      expect(readdirSync(dir).filter((f) => /\.(partial|journal)$/.test(f))).toEqual([])
      expect(manifestOf(dir).summary).toEqual(manifestOf(single).summary)
    }
    console.log(`kill test (GETOK_KILL_SEED=${seed}): SIGKILL after ${kills.join(', ')}`)
    expect(kills.length).toBeGreaterThanOrEqual(3)
  })
})

/**
 * Start the run, SIGKILL it after a random 0.2–8 s (a whole run takes about 4–8 s here), check
 * that no cut line survives, restart; returns where each kill landed.
 */
async function killAndRestartUntilDone(dir: string, random: () => number): Promise<string[]> {
  const kills: string[] = []
  for (let attempt = 0; attempt < 10; attempt++) {
    const delay = 200 + Math.floor(random() * 7800)
    const outcome = await exitOrKill(spawn('node', [BIN, 'curate', ...SMALL, '-o', dir, '--threads', '1'], {stdio: 'ignore'}), delay)
    if (outcome !== 'killed') {
      expect(outcome).toBe(0)
      return kills
    }
    kills.push(`${delay} ms (${progressOf(dir)})`)
    expectNoPartialLine(dir)
  }
  expect(await run(['curate', ...SMALL, '-o', dir, '--threads', '1'])).toBe(0)
  return delays
}

/** Deterministic [0, 1) numbers from a seed (the kill moments are printed with it). */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

/** The exit code, or 'killed' when the child was still running after `delay` ms and got SIGKILL. */
function exitOrKill(child: ChildProcess, delay: number | null): Promise<number | null | 'killed'> {
  return new Promise((resolve) => {
    const timer = delay === null ? null : setTimeout(() => child.kill('SIGKILL'), delay)
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve(signal === 'SIGKILL' ? 'killed' : code)
    })
  })
}

/** How far a killed run had come: finished shards and journalled images of the open shard. */
function progressOf(dir: string): string {
  if (!existsSync(dir)) return 'no output yet'
  const files = readdirSync(dir)
  const journalled = files.filter((f) => f.endsWith('.journal')).reduce((n, f) => n + readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0)
  return `${files.filter((f) => f.endsWith('.stats.json')).length} shards done, ${journalled} images journalled`
}

/** Finished shards never hold a cut line; whatever is cut sits in a .partial file that resume trims. */
function expectNoPartialLine(dir: string): void {
  if (!existsSync(dir)) return
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    const text = readFileSync(path.join(dir, f), 'utf8')
    expect(text === '' || text.endsWith('\n')).toBe(true)
    for (const line of text.split('\n').filter(Boolean)) JSON.parse(line)
  }
}
