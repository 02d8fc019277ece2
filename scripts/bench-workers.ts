/**
 * `getok curate --workers N`: images per second for 1, 2 and 4 worker processes on this machine,
 * --threads (default: all cores) split between them, and a check that every count writes the
 * same records, byte for byte. Each count is the built CLI run end to end (`node bin/run.js curate`,
 * the default settings: fast candidates, the default decode rule) into a fresh temp folder, so the
 * time includes process start-up and each worker's model load, as a user sees it. 48 images by
 * default: over 12, the last image and the model loads still weigh on the ratio (docs/scale.md).
 *
 * A shared VM's speed drifts by 10 % over minutes, more than the effect measured, so every count
 * runs --repeat times, the order reversed on every other pass, and a count's ratio is the median
 * of its ratios to the 1-worker run of the same pass. Each run also reports the CPU seconds it used
 * (all its processes, Linux only): a two-thread session spends more of it on the same records.
 *
 *   node dist/scripts/bench-workers.js [--annotations A --images DIR] [--limit 48] [--workers-list 1,2,4]
 *                                      [--repeat 3] [--threads T] [--device cpu] [--grid 32]
 *
 * Prints markdown tables (docs/scale.md, "Worker processes") with the load average before and after.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {median} from '../src/core/stats.js'

const SHARED = '../shared/data/tiny-coco'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface BenchWorkersOptions {
  annotations: string
  images: string
  limit: number
  workers: number[]
  /** passes over `workers`, each in the reverse order of the one before */
  repeat: number
  /** onnxruntime threads in all, split between the workers */
  threads: number
  device: string
  grid: number
}

export interface BenchWorkersRow {
  /** 0-based pass of --repeat */
  pass: number
  workers: number
  threadsEach: number
  images: number
  seconds: number
  imagesPerSecond: number
  /** user + system CPU seconds of the run's processes (parent and workers); NaN where /proc is not there */
  cpuSeconds: number
  /** imagesPerSecond over the same pass's 1-worker row's (the pass's first row's when there is none) */
  ratio: number
  /** sha256 of every shard file's bytes, in file order */
  recordsSha: string
}

/** One worker count over all passes: medians, and the spread of its ratio. */
export interface BenchWorkersSummary {
  workers: number
  runs: number
  medianImagesPerSecond: number
  medianRatio: number
  minRatio: number
  maxRatio: number
}

export interface BenchWorkersResult {
  rows: BenchWorkersRow[]
  summary: BenchWorkersSummary[]
  identical: boolean
  loadBefore: number[]
  loadAfter: number[]
}

export async function benchWorkers(options: BenchWorkersOptions): Promise<BenchWorkersResult> {
  const loadBefore = loadavg()
  const rows: BenchWorkersRow[] = []
  for (let pass = 0; pass < options.repeat; pass++) {
    const order = pass % 2 === 0 ? options.workers : [...options.workers].reverse()
    const runs = order.map((n) => {
      const run = {pass, ...runOnce(options, n)}
      // a full run takes a quarter of an hour: say where it is, on stderr (stdout is the tables)
      console.error(`bench-workers: pass ${pass + 1} of ${options.repeat}, ${n} worker(s): ${run.seconds.toFixed(1)} s`)
      return run
    })
    const base = runs.find((r) => r.workers === 1) ?? runs[0]
    // rows stay in --workers-list order within a pass, whatever order they ran in
    for (const n of options.workers) {
      const r = runs.find((x) => x.workers === n)!
      rows.push({...r, ratio: r.imagesPerSecond / base.imagesPerSecond})
    }
  }
  return {
    rows,
    summary: summarise(options.workers, rows),
    identical: new Set(rows.map((r) => r.recordsSha)).size === 1,
    loadBefore,
    loadAfter: loadavg(),
  }
}

function summarise(counts: readonly number[], rows: readonly BenchWorkersRow[]): BenchWorkersSummary[] {
  return counts.map((workers) => {
    const mine = rows.filter((r) => r.workers === workers)
    const ratios = mine.map((r) => r.ratio)
    return {
      workers,
      runs: mine.length,
      medianImagesPerSecond: median(mine.map((r) => r.imagesPerSecond)),
      medianRatio: median(ratios),
      minRatio: Math.min(...ratios),
      maxRatio: Math.max(...ratios),
    }
  })
}

/**
 * CPU seconds of the children this process has waited for, all their descendants included (a
 * child's reaped workers count in its own): /proc/self/stat's cutime + cstime, in clock ticks of
 * 1/100 s on Linux. NaN elsewhere.
 */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is the 3rd field of the line (state); cutime and cstime are the 16th and 17th
    return (Number(fields[13]) + Number(fields[14])) / 100
  } catch {
    return NaN
  }
}

function runOnce(o: BenchWorkersOptions, workers: number): Omit<BenchWorkersRow, 'ratio' | 'pass'> {
  const out = mkdtempSync(path.join(tmpdir(), `getok-bench-workers-${workers}-`))
  const args = ['bin/run.js', 'curate', '-a', o.annotations, '-i', o.images, '-o', out, '--limit', String(o.limit)]
  args.push('--grid', String(o.grid), '--workers', String(workers), '--threads', String(o.threads), '--device', o.device, '--json')
  const cpuBefore = childCpuSeconds()
  const started = performance.now()
  const run = spawnSync('node', args, {cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20})
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = childCpuSeconds() - cpuBefore
  if (run.status !== 0) throw new Error(`bench-workers: curate with --workers ${workers} failed (exit ${run.status}): ${run.stderr}`)
  const images = (JSON.parse(run.stdout) as {images: number}).images
  const hash = createHash('sha256')
  for (const f of readdirSync(out)
    .filter((f) => f.endsWith('.jsonl'))
    .sort())
    hash.update(readFileSync(path.join(out, f)))
  rmSync(out, {recursive: true, force: true})
  const threadsEach = Math.max(1, Math.floor(o.threads / workers))
  return {workers, threadsEach, images, seconds, imagesPerSecond: images / seconds, cpuSeconds, recordsSha: hash.digest('hex').slice(0, 16)}
}

export function workersTable(result: BenchWorkersResult): string {
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ')
  const cores = availableParallelism()
  const cpu = (r: BenchWorkersRow) =>
    Number.isNaN(r.cpuSeconds) ? '–' : `${r.cpuSeconds.toFixed(1)} (${((100 * r.cpuSeconds) / (r.seconds * cores)).toFixed(0)} %)`
  const lines = [
    `| pass | workers | threads each | images | wall s | images/s | vs 1 worker | CPU s (of ${cores} cores' time) | records sha256 |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...result.rows.map(
      (r) =>
        `| ${r.pass + 1} | ${r.workers} | ${r.threadsEach} | ${r.images} | ${r.seconds.toFixed(1)} | ${r.imagesPerSecond.toFixed(3)} | ` +
        `${r.ratio.toFixed(2)}× | ${cpu(r)} | \`${r.recordsSha}\` |`,
    ),
    '',
    '| workers | runs | median images/s | median vs 1 worker (same pass) | lowest – highest |',
    '|---|---|---|---|---|',
    ...result.summary.map(
      (s) =>
        `| ${s.workers} | ${s.runs} | ${s.medianImagesPerSecond.toFixed(3)} | **${s.medianRatio.toFixed(2)}×** | ` +
        `${s.minRatio.toFixed(2)}× – ${s.maxRatio.toFixed(2)}× |`,
    ),
    '',
    `records byte-identical across worker counts: ${result.identical ? 'yes' : 'NO'}; ` +
      `${availableParallelism()} cores; load average (1, 5, 15 min) before ${load(result.loadBefore)}, after ${load(result.loadAfter)}`,
  ]
  return lines.join('\n')
}

async function main(): Promise<void> {
  const {values: a} = parseArgs({
    options: {
      annotations: {type: 'string', default: `${SHARED}/annotations/instances_val2017.json`},
      images: {type: 'string', default: `${SHARED}/val2017`},
      limit: {type: 'string', default: '48'},
      'workers-list': {type: 'string', default: '1,2,4'},
      repeat: {type: 'string', default: '3'},
      threads: {type: 'string', default: String(availableParallelism())},
      device: {type: 'string', default: 'cpu'},
      grid: {type: 'string', default: '32'},
    },
  })
  const result = await benchWorkers({
    annotations: path.resolve(a.annotations),
    images: path.resolve(a.images),
    limit: Number(a.limit),
    workers: a['workers-list'].split(',').map((s) => Number(s.trim())),
    repeat: Math.max(1, Number(a.repeat)),
    threads: Number(a.threads),
    device: a.device,
    grid: Number(a.grid),
  })
  console.log(workersTable(result))
  if (!result.identical) process.exit(1)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
