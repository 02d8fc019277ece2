/**
 * Prompts batched across images (src/sam/cross-image-batcher.ts): milliseconds a prompt when K
 * images are in flight, each asking for a few prompts at a time (as curate's `fast` walk asks one),
 * decoded four ways, for each run size b in --batches (k = min(K, b) images a run, p = b / k
 * prompts an image a step):
 *   per image     each image's p prompts its own run (what curate does today), one after another
 *   concurrent    the same runs, all images' started at once (CrossImageBatcher mode `concurrent`)
 *   cross-image   the k images' prompts in one run of b (the cross-image decoder graph)
 *   one image     runs of b prompts of one image (batching within an image, for reference)
 * The four are timed in turn within each repeat, so a machine busy with other work weighs on all
 * alike; figures are medians over repeats. Prompts are grid-anchor clicks.
 *
 *   node dist/scripts/bench-batching.js [--device cpu] [--images a.jpg,b.jpg,...] [--in-flight 4]
 *        [--batches 1,4,16] [--prompts 16] [--repeats 3] [--threads N] [--graph default|plain|rewritten|both]
 *        [--out rows.json] [--write table.md]
 */
import {writeFileSync} from 'node:fs'
import {availableParallelism, cpus, loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {type SamPrompt, clickPrompt} from '../src/core/decode/prompts.js'
import {median} from '../src/core/stats.js'
import {loadImage, resizeForSam} from '../src/adapters/images.js'
import type {Device} from '../src/sam/devices.js'
import {type ImageEmbedding, SamEngine} from '../src/sam/engine.js'
import {type CrossImageMode, CrossImageBatcher} from '../src/sam/cross-image-batcher.js'

export const MODES = ['per image', 'concurrent', 'cross-image', 'one image'] as const
export type Mode = (typeof MODES)[number]

export interface BatchingOptions {
  device: Device
  images: string[]
  inFlight: number
  batches: number[]
  /** prompts an image, per mode and repeat */
  prompts: number
  repeats: number
  threads?: number
  /** the CPU rewrites on (true), off (false), or the device's default (undefined) */
  rewrite?: boolean
}

export interface BatchingRow {
  graph: string
  batch: number
  images: number
  perStep: number
  /** ms a prompt by mode, medians over repeats */
  ms: Record<Mode, number>
}

/** Grid-anchor clicks over the image, row by row, as many as asked. */
function clicks(e: ImageEmbedding, count: number): SamPrompt[] {
  const side = Math.ceil(Math.sqrt(count))
  const {width: W, height: H} = e.frame
  return Array.from({length: count}, (_, k) => clickPrompt([(((k % side) + 0.5) * W) / side, ((Math.floor(k / side) + 0.5) * H) / side]))
}

/** Each image's prompts, p at a time, through one way of decoding; resolves when all are done. */
async function runMode(engine: SamEngine, mode: Mode, work: {e: ImageEmbedding; prompts: SamPrompt[]}[], b: number, p: number) {
  if (mode === 'one image') {
    for (const {e, prompts} of work) await engine.decodePrompts(e, prompts, b)
    return
  }
  if (mode === 'per image') {
    for (let s = 0; s < work[0].prompts.length; s += p)
      for (const {e, prompts} of work) await engine.decodePrompts(e, prompts.slice(s, s + p), p)
    return
  }
  const batcher = new CrossImageBatcher(engine, {maxBatch: b, mode: (mode === 'concurrent' ? 'concurrent' : 'graph') as CrossImageMode})
  await Promise.all(
    work.map(async ({e, prompts}) => {
      for (let s = 0; s < prompts.length; s += p) await batcher.decode(e, prompts.slice(s, s + p))
    }),
  )
}

async function measureGraph(options: BatchingOptions, rewrite: boolean | undefined): Promise<BatchingRow[]> {
  const engine = await SamEngine.load({device: options.device, threads: options.threads, rewriteDecoder: rewrite})
  const graph = (rewrite ?? options.device === 'cpu') ? 'CPU rewrites' : 'plain'
  try {
    const embeddings: ImageEmbedding[] = []
    for (const file of options.images.slice(0, options.inFlight)) {
      const {rgb, frame} = await resizeForSam(await loadImage(file))
      embeddings.push(await engine.encode(rgb, frame))
    }
    const work = embeddings.map((e) => ({e, prompts: clicks(e, options.prompts)}))
    const rows: BatchingRow[] = []
    for (const b of options.batches) {
      const k = Math.min(embeddings.length, b)
      const p = Math.max(1, Math.floor(b / k))
      const chosen = work.slice(0, k)
      const times = new Map<Mode, number[]>(MODES.map((m) => [m, []]))
      // warm-up: first runs at a new shape (and the cross-image session's creation) are not timed
      for (const m of MODES)
        await runMode(
          engine,
          m,
          chosen.map((w) => ({...w, prompts: w.prompts.slice(0, b)})),
          b,
          p,
        )
      for (let r = 0; r < options.repeats; r++) {
        for (const m of r % 2 === 0 ? MODES : [...MODES].reverse()) {
          const t0 = performance.now()
          await runMode(engine, m, chosen, b, p)
          times.get(m)!.push((performance.now() - t0) / (k * options.prompts))
        }
      }
      const ms = Object.fromEntries(MODES.map((m) => [m, +median(times.get(m)!).toFixed(2)])) as Record<Mode, number>
      rows.push({graph, batch: b, images: k, perStep: p, ms})
    }
    return rows
  } finally {
    await engine.release()
  }
}

/** The rows for the chosen graphs (plain, rewritten, or the device's default). */
export async function benchBatching(options: BatchingOptions, graphs: (boolean | undefined)[] = [options.rewrite]): Promise<BatchingRow[]> {
  const rows: BatchingRow[] = []
  for (const rewrite of graphs) rows.push(...(await measureGraph(options, rewrite)))
  return rows
}

/** Markdown: one row per graph and run size, ms a prompt by mode, and cross-image against per image. */
export function batchingTable(rows: readonly BatchingRow[], options: BatchingOptions): string {
  const head = [
    `Device ${options.device}, ${options.threads ?? availableParallelism()} threads, ${cpus()[0]?.model ?? 'unknown CPU'} ` +
      `(${availableParallelism()} cores), load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${new Date().toISOString().slice(0, 16)} UTC; ` +
      `${options.prompts} prompts an image, median of ${options.repeats}. ms a prompt:`,
    '',
    `| graph | run size b | images a run | prompts an image a step | ${MODES.join(' | ')} | cross-image / per image |`,
    `|---|---|---|---|${MODES.map(() => '---|').join('')}---|`,
  ]
  const lines = rows.map(
    (r) =>
      `| ${r.graph} | ${r.batch} | ${r.images} | ${r.perStep} | ${MODES.map((m) => r.ms[m].toFixed(2)).join(' | ')} | ` +
      `${(r.ms['cross-image'] / r.ms['per image']).toFixed(2)} |`,
  )
  return [...head, ...lines].join('\n') + '\n'
}

const FIXTURES = ['000000443303', '000000025560', '000000184321', '000000219578'].map((id) => `fixtures/sample/images/${id}.jpg`)

async function main(): Promise<void> {
  const {values: a} = parseArgs({
    options: {
      device: {type: 'string', default: 'cpu'},
      images: {type: 'string'},
      'in-flight': {type: 'string', default: '4'},
      batches: {type: 'string', default: '1,4,16'},
      prompts: {type: 'string', default: '16'},
      repeats: {type: 'string', default: '3'},
      threads: {type: 'string'},
      graph: {type: 'string', default: 'default'},
      out: {type: 'string'},
      write: {type: 'string'},
    },
  })
  const options: BatchingOptions = {
    device: a.device as Device,
    images: a.images ? a.images.split(',') : FIXTURES,
    inFlight: Number(a['in-flight']),
    batches: a.batches!.split(',').map(Number),
    prompts: Number(a.prompts),
    repeats: Number(a.repeats),
    threads: a.threads ? Number(a.threads) : undefined,
  }
  const graphs = {default: [undefined], plain: [false], rewritten: [true], both: [true, false]}[a.graph!]
  if (!graphs) throw new Error(`bench-batching: --graph must be default, plain, rewritten or both (got ${a.graph})`)
  const rows = await benchBatching(options, graphs)
  const table = batchingTable(rows, options)
  process.stdout.write(table)
  if (a.out) writeFileSync(a.out, JSON.stringify({options, rows}, null, 2) + '\n')
  if (a.write) writeFileSync(a.write, table)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main()
