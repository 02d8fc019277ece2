import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

// Many machines and crashes, with the built CLI (npm test builds first) and the real model,
// on 2 real images at --grid 16, one image per shard.
const BIN = path.resolve('bin/run.js')
const SBATCH = path.resolve('docs/deploy/getok-curate.sbatch')
const SMALL = [
  '-a',
  'fixtures/sample/instances.json',
  '-i',
  'fixtures/sample/images',
  '--grid',
  '16',
  '--image-ids',
  '443303,184321',
  '--shard-size',
  '1',
]
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
    // the reference run, and the workers through the Slurm script as array tasks would run it, all at once
    const codes = await Promise.all([
      run(['curate', ...SMALL, '-o', single, '--threads', '1']),
      ...Array.from({length: WORKERS}, (_, i) => slurm({SLURM_ARRAY_TASK_ID: String(i)})),
    ])
    expect(codes).toEqual([0, 0, 0, 0])
  })

  /** docs/deploy/getok-curate.sbatch with the environment Slurm would give it (sbatch itself is not here). */
  function slurm(env: Record<string, string>): Promise<number | null> {
    const settings = {
      SLURM_JOB_ID: 'local',
      SLURM_CPUS_PER_TASK: '1',
      N: String(WORKERS),
      OUT: root,
      GETOK: `node ${BIN}`,
      FLAGS: SMALL.slice(4).join(' '),
    }
    const child = spawn('bash', [SBATCH], {stdio: 'ignore', env: {...process.env, ANN: SMALL[1], IMAGES: SMALL[3], ...settings, ...env}})
    return new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  }

  it('gives workers disjoint shares with their own shard names, and merges them into exactly the single run', async () => {
    const perWorker = Array.from({length: WORKERS}, (_, i) => recordsOf(workerDir(i)).map((r) => r.image_id))
    expect(perWorker.map((ids) => [...new Set(ids)])).toEqual([[184321], [], [443303]])
    expect(readdirSync(workerDir(2)).filter((f) => f.endsWith('.jsonl'))).toEqual(['curate-w002-00000-of-00001.jsonl'])
    expect(manifestOf(workerDir(2)).config).toMatchObject({shard_index: 2, shard_count: 3, annotations_images: 2})

    // by hand, then as the Slurm script's merge step (into $OUT/all)
    const byHand = path.join(root, 'merged')
    const merged = getok(['merge', ...[0, 1, 2].map(workerDir), '--out', byHand, '--json'])
    expect(merged.code).toBe(0)
    expect(JSON.parse(merged.stdout)).toMatchObject({workers: 3, shards: 3, records: recordsOf(single).length})
    expect(await slurm({STEP: 'merge'})).toBe(0)
    for (const out of [byHand, path.join(root, 'all')]) {
      expect(readdirSync(out).sort()).toEqual([
        'curate-00000-of-00003.jsonl',
        'curate-00001-of-00003.jsonl',
        'curate-00002-of-00003.jsonl',
        'manifest.json',
      ])
      expect(manifestOf(out).shards.map((s: {from: string}) => path.basename(s.from))).toEqual(
        [0, 1, 2].map((i) => `curate-w00${i}-00000-of-00001.jsonl`),
      )
      expect(recordsOf(out)).toEqual(recordsOf(single))
      const [a, b] = [manifestOf(single), manifestOf(out)]
      expect(b.summary).toEqual(a.summary)
      expect(b.config).toEqual(a.config)
      expect(sortedSkips(b.skips)).toEqual(sortedSkips(a.skips))
      expect(b.model).toEqual(a.model)
    }
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
    const shardOf = (dir: string) =>
      path.join(
        dir,
        readdirSync(dir).find((f) => f.endsWith('.jsonl'))!,
      )

    it.each<[string, (c: {w: string[]; single: string}) => string[], RegExp]>([
      ['a missing worker', (c) => [c.w[0], c.w[2]], /missing worker 1 of 3: merge needs the folder of every worker/],
      [
        'a worker given twice',
        (c) => {
          cpSync(c.w[0], `${c.w[0]}-again`, {recursive: true})
          return [...c.w, `${c.w[0]}-again`]
        },
        /w0-again, field "shard_index": worker 0 of 3 is given twice/,
      ],
      ['the same folder twice', (c) => [...c.w, c.w[1]], /w1: the same folder is given twice/],
      [
        'an unfinished worker',
        (c) => (rmSync(path.join(c.w[1], 'manifest.json')), c.w),
        /w1: no manifest\.json: this run has not finished/,
      ],
      [
        'another τ',
        (c) => (editManifest(c.w[2], (m) => (m.config.tau = 0.9)), c.w),
        /w2, field "config\.tau": not the same run: config\.tau is 0\.8 in .*w0 but 0\.9 here/,
      ],
      [
        'another model',
        (c) => (editManifest(c.w[1], (m) => (m.model.hash = '0123456789abcdef')), c.w),
        /w1, field "model\.hash": not the same run/,
      ],
      ['another tool version', (c) => (editManifest(c.w[1], (m) => (m.tool.version = '9.9.9')), c.w), /field "tool\.version"/],
      ['an unsharded run among workers', (c) => [...c.w, c.single], /single, field "config\.shard_count": not the same run/],
      [
        'a changed shard',
        (c) => {
          const f = shardOf(c.w[0])
          writeFileSync(f, readFileSync(f, 'utf8').replace(/"iou":0\.\d/, '"iou":0.1'))
          return c.w
        },
        /curate-w000-00000-of-00001\.jsonl, field "sha256": shard checksum differs from manifest\.json/,
      ],
      [
        'a truncated shard',
        (c) => {
          const f = shardOf(c.w[2])
          writeFileSync(f, readFileSync(f).subarray(0, 100))
          return c.w
        },
        /curate-w002-00000-of-00001\.jsonl, field "bytes": shard size differs from manifest\.json .*expected \d+ bytes, got 100/,
      ],
      [
        'a missing shard file',
        (c) => (rmSync(shardOf(c.w[2])), c.w),
        /curate-w002-00000-of-00001\.jsonl: shard listed in manifest\.json is missing/,
      ],
      [
        'a wrong record count',
        (c) => (editManifest(c.w[0], (m) => (m.shards[0].records = 5)), c.w),
        /field "records": shard record count differs from manifest\.json: expected 5, got 1/,
      ],
      [
        'a shard left out of a manifest',
        (c) => (editManifest(c.single, (m) => m.shards.pop()), [c.single]),
        /field "shards": incomplete shard list: 1 listed of 2, missing shard 1/,
      ],
      [
        'the same images twice',
        (c) => {
          cpSync(c.single, `${c.single}-again`, {recursive: true})
          return [c.single, `${c.single}-again`]
        },
        /single-again.*field "image_id": duplicate image id \d+: also in .*single/,
      ],
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
      expect(getok(['merge', ...dirs, '--out', out]).stderr).toMatch(
        /output folder is not empty \(has notes\.txt\); use another --out or --overwrite/,
      )
      expect(getok(['merge', ...dirs, '--out', out, '--overwrite']).code).toBe(0)
      expect(getok(['merge', ...dirs, '--out', workerDir(0)]).stderr).toMatch(/--out is one of the input folders/)
    })
  })

  it('refuses to reuse a folder for another worker or another split, unless --overwrite', () => {
    const again = getok(['curate', ...SMALL, '-o', workerDir(1), '--shard-index', '0', '--shard-count', '3'])
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/different configuration \(shard_index: 1 → 0\) \(each worker of a sharded run needs its own --out\)/)
    expect(getok(['curate', ...SMALL, '-o', workerDir(1), '--shard-index', '1', '--shard-count', '4']).stderr).toMatch(/shard_count: 3 → 4/)
    expect(getok(['curate', ...SMALL, '-o', single, '--shard-index', '0', '--shard-count', '2']).stderr).toMatch(
      /shard_index: undefined → 0; shard_count: undefined → 2/,
    )
    expect(getok(['curate', ...SMALL, '-o', tmp('bad-index'), '--shard-index', '3', '--shard-count', '3']).stderr).toMatch(
      /--shard-index: bad worker index: expected an integer from 0 to 2/,
    )
  })

  it('survives SIGKILL at random moments, several times: the restarted run ends with exactly the uninterrupted records', async () => {
    const seed = Number(process.env.GETOK_KILL_SEED ?? 20251125)
    const random = lcg(seed)
    // the kill moments are drawn from how long one uninterrupted run takes on this machine now
    const started = Date.now()
    expect(await run(['curate', ...SMALL, '-o', tmp('solo'), '--threads', '1'])).toBe(0)
    const soloMs = Date.now() - started
    const kills: string[] = []
    // a cycle: up to 4 kills, the k-th at a random moment of the k-th quarter of a run's length (a
    // restarted run has less left to do, so a late kill may find it finished), then a run to the end;
    // another cycle in a fresh folder until at least 4 kills have landed
    for (let cycle = 0; cycle < 3 && kills.length < 4; cycle++) {
      const dir = tmp('kill')
      const landed = await killAndRestartUntilDone(dir, (k) => Math.round((0.05 + (0.95 * (k + random())) / 4) * soloMs), 4)
      kills.push(...landed.map((k) => `cycle ${cycle + 1}: ${k}`))
      expect(recordsOf(dir)).toEqual(recordsOf(single))
      for (const f of readdirSync(single).filter((f) => f.endsWith('.jsonl'))) {
        expect(readFileSync(path.join(dir, f), 'utf8')).toBe(readFileSync(path.join(single, f), 'utf8'))
      }
      expect(readdirSync(dir).filter((f) => /\.(partial|journal)$/.test(f))).toEqual([])
      expect(manifestOf(dir).summary).toEqual(manifestOf(single).summary)
    }
    console.log(`kill test (GETOK_KILL_SEED=${seed}, a whole run ${soloMs} ms): SIGKILL at ${kills.join('; ')}`)
    expect(kills.length).toBeGreaterThanOrEqual(3)
  }, 480_000) // several restarts of a SAM run; on a loaded 2-core machine each takes 10–30 s
})

/**
 * Start the run, SIGKILL it after randomDelay(attempt) ms, check that no cut line survives,
 * restart; after `attempts` kills let it finish. Returns where each kill landed.
 */
async function killAndRestartUntilDone(dir: string, randomDelay: (attempt: number) => number, attempts: number): Promise<string[]> {
  const kills: string[] = []
  for (let attempt = 0; attempt < attempts; attempt++) {
    const delay = randomDelay(attempt)
    const outcome = await exitOrKill(spawn('node', [BIN, 'curate', ...SMALL, '-o', dir, '--threads', '1'], {stdio: 'ignore'}), delay)
    if (outcome !== 'killed') {
      expect(outcome).toBe(0)
      return kills
    }
    kills.push(`${delay} ms (${progressOf(dir)})`)
    expectNoPartialLine(dir)
  }
  expect(await run(['curate', ...SMALL, '-o', dir, '--threads', '1'])).toBe(0)
  return kills
}

/** Deterministic [0, 1) numbers from a seed (the kill moments are printed with it). */
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
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
  const journalled = files
    .filter((f) => f.endsWith('.journal'))
    .reduce((n, f) => n + readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean).length, 0)
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
