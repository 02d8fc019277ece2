/**
 * `getok curate --workers N`: images per second for 1, 2 and 4 worker processes on this machine,
 * --threads (default: all cores) split between them, and a check that every count writes the
 * same records, byte for byte. Each count is the built CLI run end to end (`node bin/run.js curate`,
 * the default settings: fast candidates, the default decode rule) into a fresh temp folder, so the
 * time includes process start-up and each worker's model load, as a user sees it. 48 images by
 * default: over 12, the last image and the model loads still weigh on the ratio (docs/scale.md).
 *
 *   node dist/scripts/bench-workers.js [--annotations A --images DIR] [--limit 48] [--workers-list 1,2,4]
 *                                      [--threads T] [--device cpu] [--grid 32]
 *
 * Prints a markdown table (docs/scale.md, "Worker processes") with the load average before and after.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {availableParallelism, loadavg, tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const SHARED = '../shared/data/tiny-coco'
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface BenchWorkersOptions {
  annotations: string
  images: string
  limit: number
  workers: number[]
  /** onnxruntime threads in all, split between the workers */
  threads: number
  device: string
  grid: number
}

export interface BenchWorkersRow {
  workers: number
  threadsEach: number
  images: number
  seconds: number
  imagesPerSecond: number
  /** imagesPerSecond over the 1-worker row's (the first row's when there is none) */
  ratio: number
  /** sha256 of every shard file's bytes, in file order */
  recordsSha: string
}

export interface BenchWorkersResult {
  rows: BenchWorkersRow[]
  identical: boolean
  loadBefore: number[]
  loadAfter: number[]
}

export async function benchWorkers(options: BenchWorkersOptions): Promise<BenchWorkersResult> {
  const loadBefore = loadavg()
  const runs = options.workers.map((n) => runOnce(options, n))
  const base = runs.find((r) => r.workers === 1) ?? runs[0]
  const rows = runs.map((r) => ({...r, ratio: r.imagesPerSecond / base.imagesPerSecond}))
  return {rows, identical: new Set(rows.map((r) => r.recordsSha)).size === 1, loadBefore, loadAfter: loadavg()}
}

function runOnce(o: BenchWorkersOptions, workers: number): Omit<BenchWorkersRow, 'ratio'> {
  const out = mkdtempSync(path.join(tmpdir(), `getok-bench-workers-${workers}-`))
  const args = ['bin/run.js', 'curate', '-a', o.annotations, '-i', o.images, '-o', out, '--limit', String(o.limit)]
  args.push('--grid', String(o.grid), '--workers', String(workers), '--threads', String(o.threads), '--device', o.device, '--json')
  const started = performance.now()
  const run = spawnSync('node', args, {cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20})
  const seconds = (performance.now() - started) / 1000
  if (run.status !== 0) throw new Error(`bench-workers: curate with --workers ${workers} failed (exit ${run.status}): ${run.stderr}`)
  const images = (JSON.parse(run.stdout) as {images: number}).images
  const hash = createHash('sha256')
  for (const f of readdirSync(out)
    .filter((f) => f.endsWith('.jsonl'))
    .sort())
    hash.update(readFileSync(path.join(out, f)))
  rmSync(out, {recursive: true, force: true})
  const threadsEach = Math.max(1, Math.floor(o.threads / workers))
  return {workers, threadsEach, images, seconds, imagesPerSecond: images / seconds, recordsSha: hash.digest('hex').slice(0, 16)}
}

export function workersTable(result: BenchWorkersResult): string {
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ')
  const lines = [
    '| workers | threads each | images | wall s | images/s | vs 1 worker | records sha256 |',
    '|---|---|---|---|---|---|---|',
    ...result.rows.map(
      (r) =>
        `| ${r.workers} | ${r.threadsEach} | ${r.images} | ${r.seconds.toFixed(1)} | ${r.imagesPerSecond.toFixed(3)} | ` +
        `${r.ratio.toFixed(2)}× | \`${r.recordsSha}\` |`,
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
    threads: Number(a.threads),
    device: a.device,
    grid: Number(a.grid),
  })
  console.log(workersTable(result))
  if (!result.identical) process.exit(1)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
