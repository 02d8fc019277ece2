/**
 * `getok serve` under load: requests per second and p50/p99 latency at 1, 8 and 32 concurrent
 * clients, with a cold and a warm embedding cache, on tiny-coco val2017.
 *
 *   node dist/scripts/bench-serve.js [--annotations A --images DIR] [--limit 6] [--grid 32] [--device cpu]
 *                                    [--threads T] [--clients 1,8,32] [--requests 48] [--work DIR] [--write docs/rl.md]
 *
 * The answers are real: `getok curate` (fast) on the first --limit images with objects, one request per
 * curated object's <seg> answer (a grid-turn completion), the images taken in turn so a cold pass meets
 * every image early. SAM is loaded once; each concurrency level gets a fresh server (empty cache: the
 * cold pass), then the same requests again (every image cached: the warm pass). The clients run in a
 * process of their own, as a trainer's would (onnxruntime-node runs on the server's main thread, so
 * in-process clients could not send while SAM works); each sends its next request when the last is
 * answered. --write replaces the table between the bench-serve markers of a markdown file.
 */
import {execFileSync, execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import {cpus, tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs, promisify} from 'node:util'

const SHARED = '../shared/data/tiny-coco'
const {values: args, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    annotations: {type: 'string', default: `${SHARED}/annotations/instances_val2017.json`},
    images: {type: 'string', default: `${SHARED}/val2017`},
    limit: {type: 'string', default: '6'},
    grid: {type: 'string', default: '32'},
    device: {type: 'string', default: 'cpu'},
    threads: {type: 'string'},
    clients: {type: 'string', default: '1,8,32'},
    requests: {type: 'string', default: '48'},
    work: {type: 'string'},
    write: {type: 'string'},
    // internal: this script as the load generator, in its own process
    client: {type: 'boolean', default: false},
  },
})

interface ClientRun {
  latencies: number[]
  wallMs: number
  failed: number
}

/** Client mode: `concurrency` loops sending the samples of `file` (cycled) until `count` requests are answered. */
async function clientMode([url, file, concurrency, count]: string[]): Promise<void> {
  const samples: unknown[] = JSON.parse(readFileSync(file, 'utf8'))
  const total = Number(count)
  const latencies: number[] = []
  let next = 0
  let failed = 0
  const started = performance.now()
  const loop = async () => {
    while (next < total) {
      const body = JSON.stringify(samples[next++ % samples.length])
      const t0 = performance.now()
      const status = await post(url, body)
      latencies.push(performance.now() - t0)
      if (status !== 200) failed++
    }
  }
  await Promise.all(Array.from({length: Number(concurrency)}, loop))
  const run: ClientRun = {latencies, wallMs: performance.now() - started, failed}
  process.stdout.write(JSON.stringify(run))
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}
    const req = request(new URL('/score', url), {method: 'POST', headers}, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

interface Row {
  clients: number
  cache: 'cold' | 'warm'
  requests: number
  failed: number
  rps: number
  p50: number
  p99: number
  perPass: number
  encoded: number
}

const nearestRank = (sorted: number[], p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]

async function bench(): Promise<void> {
  if (!existsSync(args.annotations) || !existsSync(args.images)) {
    console.error(`bench-serve: ${args.annotations} or ${args.images} not found; pass --annotations and --images`)
    process.exit(2)
  }
  const {SamEngine} = await import('../src/sam/engine.js')
  const device = args.device as import('../src/sam/devices.js').Device
  const work = args.work ?? mkdtempSync(path.join(tmpdir(), 'getok-bench-serve-'))
  // made data is kept only where --work names its folder
  if (!args.work) process.on('exit', () => rmSync(work, {recursive: true, force: true}))
  const curated = path.join(work, 'curated')
  if (!existsSync(path.join(curated, 'manifest.json'))) {
    const cli = ['curate', '-a', args.annotations, '-i', args.images, '-o', curated, '--limit', args.limit, '--grid', args.grid]
    const threads = args.threads ? ['--threads', args.threads] : []
    execFileSync(process.execPath, [path.resolve('bin/run.js'), ...cli, ...threads], {stdio: ['ignore', 'ignore', 'inherit']})
  }
  const samples = interleaveByImage(readCurated(curated)).map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.seg}))
  const samplesFile = path.join(work, 'samples.json')
  writeFileSync(samplesFile, JSON.stringify(samples))
  const images = new Set(samples.map((s) => s.image_id)).size
  const engine = await SamEngine.load({device, threads: args.threads ? Number(args.threads) : undefined})
  const count = Number(args.requests)
  const rows: Row[] = []
  for (const clients of args.clients.split(',').map(Number))
    rows.push(...(await atConcurrency(clients, count, samplesFile, curated, engine, device)))
  await engine.release()
  const table = formatTable(rows, {images, samples: samples.length, count, device, grid: args.grid})
  console.log(table)
  if (args.write) writeTable(args.write, table)
}

/** A fresh server (empty cache), the requests from `clients` clients twice: cold, then warm. */
async function atConcurrency(
  clients: number,
  count: number,
  samplesFile: string,
  curated: string,
  engine: import('../src/sam/engine.js').SamEngine,
  device: import('../src/sam/devices.js').Device,
): Promise<Row[]> {
  const {defaultBatch} = await import('../src/sam/devices.js')
  const {startServe} = await import('../src/pipeline/serve/serve-run.js')
  const rows: Row[] = []
  const h = await startServe({
    annotations: args.annotations,
    images: args.images,
    host: '127.0.0.1',
    port: 0,
    decode: {curated},
    batch: defaultBatch(device),
    cacheMb: 1024,
    gtCacheMb: 256,
    concurrency: 1,
    windowMs: 0,
    timeoutMs: 600_000,
    maxBodyKb: 4096,
    maxSamples: 4096,
    maxQueue: 100_000,
    engine: async () => engine,
    releaseEngine: false,
  })
  await h.ready
  for (const cache of ['cold', 'warm'] as const) {
    const before = h.service()!.stats() as {batches: number; samples: number; images_encoded: number}
    const run = await clientProcess(h.url, samplesFile, clients, count)
    const after = h.service()!.stats() as typeof before
    const sorted = [...run.latencies].sort((a, b) => a - b)
    rows.push({
      clients,
      cache,
      requests: run.latencies.length,
      failed: run.failed,
      rps: run.latencies.length / (run.wallMs / 1000),
      p50: nearestRank(sorted, 50),
      p99: nearestRank(sorted, 99),
      perPass: (after.samples - before.samples) / Math.max(1, after.batches - before.batches),
      encoded: after.images_encoded - before.images_encoded,
    })
    console.error(`clients ${clients}, ${cache}: ${rows.at(-1)!.rps.toFixed(2)} req/s`)
  }
  await h.close()
  return rows
}

function clientProcess(url: string, file: string, clients: number, count: number): Promise<ClientRun> {
  const self = fileURLToPath(import.meta.url)
  return promisify(execFile)(process.execPath, [self, '--client', url, file, String(clients), String(count)], {
    maxBuffer: 1 << 26,
  }).then(({stdout}) => JSON.parse(stdout))
}

interface CuratedRecord {
  image_id: number
  ann_id: number
  seg: string
}

function readCurated(dir: string): CuratedRecord[] {
  return readdirSync(dir)
    .filter((f) => /^curate-\d+-of-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l))
}

/** Records reordered so consecutive ones are on different images: image 1's first, image 2's first, …, image 1's second, … */
function interleaveByImage(records: CuratedRecord[]): CuratedRecord[] {
  const byImage = new Map<number, CuratedRecord[]>()
  for (const r of records) byImage.set(r.image_id, [...(byImage.get(r.image_id) ?? []), r])
  const lists = [...byImage.values()]
  const out: CuratedRecord[] = []
  for (let k = 0; out.length < records.length; k++) for (const l of lists) if (k < l.length) out.push(l[k])
  return out
}

function formatTable(rows: Row[], m: {images: number; samples: number; count: number; device: string; grid: string}): string {
  const head = [
    `getok serve, ${m.count} requests a pass (one <seg> answer each, cycling ${m.samples} curated objects on ${m.images} ` +
      `tiny-coco val2017 images, n = ${m.grid}); ${m.device}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), ` +
      new Date().toISOString().slice(0, 10),
    '',
    '| clients | cache | req/s | p50 ms | p99 ms | samples per decoder pass | images encoded | failed |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  ]
  const lines = rows.map(
    (r) =>
      `| ${r.clients} | ${r.cache} | ${r.rps.toFixed(2)} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.perPass.toFixed(1)} | ` +
      `${r.encoded} | ${r.failed} |`,
  )
  return [...head, ...lines].join('\n')
}

function writeTable(file: string, table: string): void {
  const text = readFileSync(file, 'utf8')
  const begin = '<!-- bench-serve:begin -->'
  const end = '<!-- bench-serve:end -->'
  const [a, b] = [text.indexOf(begin), text.indexOf(end)]
  if (a < 0 || b < a) throw new Error(`${file}: no ${begin} … ${end} section to replace`)
  writeFileSync(file, `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`)
}

if (args.client) await clientMode(positionals)
else await bench()
