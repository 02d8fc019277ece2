/**
 * The export section of `npm run bench` (scripts/bench-suite.ts): wall seconds, records a second and
 * peak RSS of `getok export` at several sizes, and how its memory grows with the records, in one run.
 * For each of --sizes a synthetic curate folder (scripts/bench-export.ts: the records of --from
 * replicated with new ids) is made in a temp folder (os.tmpdir()/getok-bench-export-*, removed at the
 * end, also on failure or Ctrl-C), and the built CLI exports it in each of --formats as a user runs it:
 * `node bin/run.js export --curated DIR --format F -o OUT --json`, default tasks. Wall seconds are the
 * child process's, start-up included. Peak RSS and CPU seconds are the child's own
 * (process.resourceUsage() at its exit, written by a `--require` preload), so no /usr/bin/time is
 * needed; --verify-rss also runs each export under `/usr/bin/time -v` and shows its maximum RSS.
 *
 *   node dist/scripts/bench-export-run.js [--sizes 50000,200000,400000] [--formats swift,llava]
 *        [--from fixtures/curated-box] [--verify-rss] [--write docs/benchmarks.md]
 *
 * Prints a markdown table (per format and size: records in and out, seconds, records/s, user CPU,
 * peak RSS and MB of it per 100k curated records), one of the growth between consecutive sizes (MB
 * of peak RSS per 100k more records, the peak that projects for COCO's 860k objects, records/s
 * larger over smaller), and a JSON line. MB are 10⁶ bytes. --write appends the tables to a markdown
 * file. --device is accepted, since the suite passes it, and unused: export runs no model.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir, totalmem} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {buildCuratedFolder} from './bench-export.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** curated objects of COCO train2014 + val2014 at n = 32 (docs/export.md, "Speed and memory") */
const COCO_RECORDS = 860_000
const TIME = '/usr/bin/time'

/** The child's preload: its own resource usage at exit (maxRSS in KiB, CPU times in µs) into a file. */
const PRELOAD = `const {writeFileSync} = require('node:fs')
process.on('exit', () => {
  const u = process.resourceUsage()
  writeFileSync(process.env.GETOK_BENCH_USAGE, JSON.stringify({maxRSS: u.maxRSS, user: u.userCPUTime, system: u.systemCPUTime}))
})
`

export interface ExportBenchOptions {
  from: string
  sizes: number[]
  formats: string[]
  verifyRss: boolean
}

export interface ExportBenchRow {
  format: string
  /** curated records in */
  curated: number
  /** trainer records written */
  exported: number
  /** bytes of the data files */
  bytes: number
  seconds: number
  userSeconds: number
  peakRssMB: number
  /** /usr/bin/time -v's maximum resident set size, with --verify-rss */
  timeRssMB?: number
}

/** One format between two consecutive sizes. */
export interface ExportBenchGrowth {
  format: string
  from: number
  to: number
  /** MB of peak RSS per 100k more curated records */
  mbPer100k: number
  /** the larger size's peak plus that slope up to 860k records */
  projectedCocoMB: number
  /** records/s at the larger size over the smaller's */
  rateRatio: number
}

export interface ExportBenchResult {
  rows: ExportBenchRow[]
  growth: ExportBenchGrowth[]
  /** seconds to make each size's folder */
  folderSeconds: number[]
  loadBefore: number[]
  loadAfter: number[]
}

const mb = (kib: number) => (kib * 1024) / 1e6

/** The export running now, and the signal that stopped the bench (the temp folder goes before it exits). */
const current: {child?: ChildProcess; signal?: NodeJS.Signals} = {}

function onSignal(signal: NodeJS.Signals): void {
  current.signal = signal
  current.child?.kill(signal)
}

/** A child to its end: exit status or signal, and its whole stdout and stderr. */
async function runChild(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
  current.child = child
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, sig) => resolve([code, sig]))
  })
  current.child = undefined
  return {status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')}
}

/** One export of `curated` as the CLI runs; the folder it writes is removed after. */
async function exportOnce(work: string, curated: string, format: string, verifyRss: boolean): Promise<Omit<ExportBenchRow, 'curated'>> {
  const out = path.join(work, `export-${format}`)
  const usageFile = path.join(work, 'usage.json')
  rmSync(usageFile, {force: true})
  const node = [process.execPath, '--require', path.join(work, 'peak-rss.cjs'), 'bin/run.js', 'export']
  node.push('--curated', curated, '--format', format, '-o', out, '--json')
  const [command, ...args] = verifyRss ? [TIME, '-v', ...node] : node
  const started = performance.now()
  const run = await runChild(command, args, {...process.env, GETOK_BENCH_USAGE: usageFile})
  const seconds = (performance.now() - started) / 1000
  if (current.signal) throw new Error(`bench-export-run: stopped by ${current.signal}`)
  if (run.status !== 0 || !existsSync(usageFile))
    throw new Error(`bench-export-run: export --format ${format} failed (exit ${run.status ?? run.signal}): ${run.stderr.slice(-2000)}`)
  const result = JSON.parse(run.stdout) as {files: {bytes: number}[]; summary: {records: number}}
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as {maxRSS: number; user: number}
  const timeKiB = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1]
  rmSync(out, {recursive: true, force: true})
  return {
    format,
    exported: result.summary.records,
    bytes: result.files.reduce((n, f) => n + f.bytes, 0),
    seconds,
    userSeconds: usage.user / 1e6,
    peakRssMB: mb(usage.maxRSS),
    ...(verifyRss && timeKiB !== undefined ? {timeRssMB: mb(Number(timeKiB))} : {}),
  }
}

function growthOf(rows: readonly ExportBenchRow[], formats: readonly string[]): ExportBenchGrowth[] {
  return formats.flatMap((format) => {
    const mine = rows.filter((r) => r.format === format)
    return mine.slice(1).map((big, i) => {
      const small = mine[i]
      const mbPer100k = ((big.peakRssMB - small.peakRssMB) / (big.curated - small.curated)) * 1e5
      return {
        format,
        from: small.curated,
        to: big.curated,
        mbPer100k,
        projectedCocoMB: big.peakRssMB + (mbPer100k * (COCO_RECORDS - big.curated)) / 1e5,
        rateRatio: big.curated / big.seconds / (small.curated / small.seconds),
      }
    })
  })
}

export async function benchExport(options: ExportBenchOptions): Promise<ExportBenchResult> {
  if (options.verifyRss && !existsSync(TIME)) throw new Error(`bench-export-run: --verify-rss needs ${TIME}, which is not here`)
  const loadBefore = loadavg()
  const work = mkdtempSync(path.join(tmpdir(), 'getok-bench-export-'))
  const rows: ExportBenchRow[] = []
  const folderSeconds: number[] = []
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  try {
    writeFileSync(path.join(work, 'peak-rss.cjs'), PRELOAD)
    for (const size of options.sizes) {
      const curated = path.join(work, `curated-${size}`)
      const started = performance.now()
      const made = buildCuratedFolder({from: options.from, records: size, out: curated, shardSize: 1000})
      folderSeconds.push((performance.now() - started) / 1000)
      for (const format of options.formats) {
        const row = {curated: made.records, ...(await exportOnce(work, curated, format, options.verifyRss))}
        // stderr: where it is (stdout is the tables)
        console.error(`bench-export-run: ${size} records, ${format}: ${row.seconds.toFixed(1)} s, ${row.peakRssMB.toFixed(0)} MB`)
        rows.push(row)
      }
      rmSync(curated, {recursive: true, force: true})
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
  }
  return {rows, growth: growthOf(rows, options.formats), folderSeconds, loadBefore, loadAfter: loadavg()}
}

export function exportBenchTables(result: ExportBenchResult, options: ExportBenchOptions): string {
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ')
  const verified = result.rows.some((r) => r.timeRssMB !== undefined)
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ')
  return [
    `### ${when} UTC, ${cpus()[0]?.model.trim() ?? 'cpu'} (${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB), ` +
      `Node ${process.version}`,
    '',
    `Curate folders: the records of \`${options.from}\` replicated (scripts/bench-export.ts), made in ` +
      `${result.folderSeconds.map((s) => s.toFixed(1)).join(', ')} s; default tasks; load average (1, 5, 15 min) before ` +
      `${load(result.loadBefore)}, after ${load(result.loadAfter)}.`,
    '',
    `| format | curated records | records written | data MB | wall s | curated records/s | records written/s | user CPU s | ` +
      `peak RSS MB | MB per 100k curated |${verified ? ' /usr/bin/time -v max RSS MB |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|---|${verified ? '---|' : ''}`,
    ...result.rows.map(
      (r) =>
        `| ${r.format} | ${r.curated} | ${r.exported} | ${(r.bytes / 1e6).toFixed(1)} | ${r.seconds.toFixed(1)} | ` +
        `${(r.curated / r.seconds).toFixed(0)} | ${(r.exported / r.seconds).toFixed(0)} | ${r.userSeconds.toFixed(1)} | ` +
        `${r.peakRssMB.toFixed(0)} | ${((r.peakRssMB / r.curated) * 1e5).toFixed(0)} |` +
        (verified ? ` ${r.timeRssMB?.toFixed(0) ?? '–'} |` : ''),
    ),
    '',
    '| format | between (curated records) | peak RSS growth, MB per 100k more | projected peak at 860k, MB | ' +
      'records/s, larger over smaller |',
    '|---|---|---|---|---|',
    ...result.growth.map(
      (g) =>
        `| ${g.format} | ${g.from} → ${g.to} | ${g.mbPer100k.toFixed(0)} | ${g.projectedCocoMB.toFixed(0)} | ` +
        `${g.rateRatio.toFixed(2)}× |`,
    ),
  ].join('\n')
}

async function main(): Promise<void> {
  const {values: a} = parseArgs({
    options: {
      from: {type: 'string', default: 'fixtures/curated-box'},
      sizes: {type: 'string', default: '50000,200000,400000'},
      formats: {type: 'string', default: 'swift,llava'},
      'verify-rss': {type: 'boolean', default: false},
      write: {type: 'string'},
      device: {type: 'string'},
    },
  })
  const options: ExportBenchOptions = {
    from: path.resolve(a.from),
    sizes: a.sizes.split(',').map((s) => Number(s.trim())),
    formats: a.formats.split(',').map((s) => s.trim()),
    verifyRss: a['verify-rss'],
  }
  const result = await benchExport(options).catch((e: unknown) => {
    if (!current.signal) throw e
    console.error(`bench-export-run: stopped by ${current.signal}; temp folders removed`)
    process.exit(current.signal === 'SIGINT' ? 130 : 143)
  })
  const tables = exportBenchTables(result, {...options, from: a.from})
  console.log(tables)
  console.log(JSON.stringify({section: 'export', options, ...result}))
  if (a.write) appendFileSync(a.write, `\n${tables}\n`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
