/**
 * The curate section of `npm run bench` (scripts/bench-suite.ts): stage timings and the fast-vs-exhaustive comparison on real
 * COCO images, measured in one run so the ratios compare like with like.
 *
 *   node dist/scripts/bench.js [--annotations A --images DIR] [--limit N] [--image-ids 1,2] [--grid 32] [--tau 0.8]
 *                    [--device cpu] [--batch B] [--modes fast,pool,all] [--no-exhaustive]
 *                    [--write docs/benchmarks.md] [--out bench.json] [--budget-s S]
 *
 * Default: every tiny-coco val2017 image (25 to 45 min on 2 cores, most of it the
 * exhaustive pass; --limit 5 takes about 2 min). Images of the file that have no objects or no
 * file under --images are left out, and the table says how many had no file, so a full COCO
 * annotation file can be benched against the images at hand. Prints a markdown table and JSON;
 * --write appends the table with machine, device and date to a markdown file;
 * --out writes every record's token set and IoU per mode. --budget-s stops taking new images once
 * that many seconds have passed (a lent GPU machine's minutes are counted); the table then says
 * how many of the images it covers. On the CPU, after the modes (and after peak RSS is read), a
 * second engine with the plain decoder graph times the same prompts as the rewritten one,
 * interleaved, on the first image: what the CPU graph rewrites buy.
 */
import {appendFileSync, existsSync, writeFileSync} from 'node:fs'
import {cpus, totalmem} from 'node:os'
import {parseArgs} from 'node:util'
import {CANDIDATE_MODES, type CandidateMode} from '../src/core/selection/candidates.js'
import {mean, median} from '../src/core/stats.js'
import {readCoco} from '../src/adapters/coco.js'
import {loadImage, resizeForSam} from '../src/adapters/images.js'
import {SamEngine} from '../src/sam/engine.js'
import {type Device, defaultBatch} from '../src/sam/devices.js'
import {type CurateOptions, selectPoints} from '../src/pipeline/curate/curate-image.js'
import {prepareObjects} from '../src/pipeline/shared/objects.js'
import {ImageCandidates} from '../src/pipeline/curate/image-candidates.js'
import {silentProgress, terminalProgress} from '../src/pipeline/shared/progress.js'
import {resolveImagePath, selectImages} from '../src/pipeline/shared/select-images.js'

const pct = (k: number, total: number) => `${((100 * k) / Math.max(total, 1)).toFixed(1)}%`

const SHARED = '../shared/data/tiny-coco'
const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string', default: `${SHARED}/annotations/instances_val2017.json`},
    images: {type: 'string', default: `${SHARED}/val2017`},
    // default: every image of the annotation file (the issue's targets are averages over them)
    limit: {type: 'string'},
    // comma-separated image ids (default: every image, in id order)
    'image-ids': {type: 'string'},
    grid: {type: 'string', default: '32'},
    tau: {type: 'string', default: '0.8'},
    device: {type: 'string', default: 'cpu'},
    // prompts per decoder run in the modes (curate's --batch: default 1 on the CPU, 16 on a GPU); the
    // per-prompt row also times a batch of max(batch, 16), to show what batching would buy here
    batch: {type: 'string'},
    // candidate modes to run; the ratios against exhaustive need `all`
    modes: {type: 'string', default: CANDIDATE_MODES.join(',')},
    'no-exhaustive': {type: 'boolean', default: false},
    write: {type: 'string'},
    // per-record JSON (token sets and IoU of every mode) for a record-by-record comparison
    out: {type: 'string'},
    'budget-s': {type: 'string'},
  },
})
const asked = args.modes.split(',').map((m) => m.trim())
const unknown = asked.filter((m) => !(CANDIDATE_MODES as readonly string[]).includes(m))
if (unknown.length > 0) {
  console.error(`bench: unknown mode ${unknown.join(', ')} in --modes (known: ${CANDIDATE_MODES.join(', ')})`)
  process.exit(2)
}
if (!existsSync(args.annotations)) {
  console.error(`bench: ${args.annotations} not found; pass --annotations and --images (real COCO files)`)
  process.exit(2)
}

const t = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now()
  const v = await f()
  return [v, performance.now() - t0]
}
const batch = args.batch === undefined ? defaultBatch(args.device as Device) : Number(args.batch)
const base: CurateOptions = {
  grid: Number(args.grid),
  tau: Number(args.tau),
  epsilon: 1e-3,
  maxTokens: 64,
  policy: 'single',
  candidates: 'fast',
  margin: 1,
  includeCrowd: false,
  tokenStyle: 'plain',
  batch,
}

const [engine, loadMs] = await t(() => SamEngine.load({device: args.device as Device}))
const data = await readCoco(args.annotations)
const imageIds = args['image-ids']?.split(',').map((id) => Number(id.trim()))
const withObjects = selectImages(data, {imageIds}).filter((it) => prepareObjects(it.image, it.anns, false).objects.length > 0)
// images the annotation file lists but --images does not hold are left out (and counted), not an error
const present = withObjects.filter((it) => existsSync(resolveImagePath(args.images, it.image, args.annotations)))
const noFile = withObjects.length - present.length
const items = args.limit === undefined ? present : present.slice(0, Number(args.limit))
if (items.length === 0) {
  console.error(`bench: none of the ${withObjects.length} images with objects in ${args.annotations} has its file under ${args.images}`)
  process.exit(2)
}
if (noFile > 0)
  console.error(`bench: ${noFile} of ${withObjects.length} images with objects have no file under ${args.images}; benching the others`)

interface ModeStats {
  seconds: number[]
  calls: number[]
  objects: number
  tokens: number[]
  iou: number[]
  reached: number[]
  greedyMs: number[]
}
interface RecordRow {
  image_id: number
  ann_id: number
  mode: CandidateMode
  points: number[]
  iou: number
}
const records: RecordRow[] = []
// the exhaustive pass last: it is the slow one, and the others must not find its masks cached
const runModes = CANDIDATE_MODES.filter((m) => asked.includes(m) && m !== 'all')
if (asked.includes('all') && !args['no-exhaustive']) runModes.push('all')
const progress = process.stderr.isTTY ? terminalProgress('bench') : silentProgress
progress.start(items.length, 0)
const modes: Record<string, ModeStats> = {}
const decodeMs: number[] = []
const encodeMs: number[] = []
const perPrompt: Record<string, number[]> = {b1: [], bN: []}
const bigBatch = Math.max(batch, 16)
const budgetMs = args['budget-s'] === undefined ? Infinity : 1000 * Number(args['budget-s'])
const benchStart = performance.now()
let first: {embedding: Awaited<ReturnType<SamEngine['encode']>>; pts: [number, number][]} | undefined
for (const {image, anns} of items) {
  if (performance.now() - benchStart > budgetMs) break
  const path = resolveImagePath(args.images, image, args.annotations)
  const [{rgb, frame}, dMs] = await t(async () => resizeForSam(await loadImage(path)))
  decodeMs.push(dMs)
  const [embedding, eMs] = await t(() => engine.encode(rgb, frame))
  encodeMs.push(eMs)
  // decoder cost per prompt, one by one and batched, on points spread over the image
  const pts: [number, number][] = Array.from({length: Math.max(32, bigBatch)}, (_, k) => [
    (((k % 8) + 0.5) * image.width) / 8,
    (((Math.floor(k / 8) % 8) + 0.5) * image.height) / 8,
  ])
  perPrompt.b1.push((await t(() => engine.decodePoints(embedding, pts, 1)))[1] / pts.length)
  perPrompt.bN.push((await t(() => engine.decodePoints(embedding, pts, bigBatch)))[1] / pts.length)
  first ??= {embedding, pts}
  const {objects} = prepareObjects(image, anns, false)
  for (const mode of runModes) {
    const m = (modes[mode] ??= {seconds: [], calls: [], objects: 0, tokens: [], iou: [], reached: [], greedyMs: []})
    const options = {...base, candidates: mode}
    const t0 = performance.now()
    const cache = new ImageCandidates(
      engine,
      embedding,
      {n: options.grid, width: image.width, height: image.height},
      ['single'],
      options.batch,
    )
    const frame = {n: options.grid, width: image.width, height: image.height}
    for (const {ann, mask} of objects) {
      const s0 = performance.now()
      const d0 = engine.decoderMs
      const r = await selectPoints(mask, frame, cache, options)
      // selection time: the call less the decoder runs inside it
      m.greedyMs.push(performance.now() - s0 - (engine.decoderMs - d0))
      records.push({image_id: image.id, ann_id: ann.id, mode, points: [...r.chosen].sort((a, b) => a - b), iou: r.iou})
      m.tokens.push(r.chosen.length)
      m.iou.push(r.iou)
      m.reached.push(+r.reached)
      m.objects++
    }
    // end to end: image decode + encoder + selection for this image
    m.seconds.push((performance.now() - t0 + dMs + eMs) / 1000)
    m.calls.push(cache.decoded)
  }
  progress.tick(encodeMs.length)
}
progress.end()

const rss = process.resourceUsage().maxRSS / 1024
const rows: [string, string][] = [
  [
    'images (objects)',
    `${encodeMs.length}${encodeMs.length < items.length ? ` of ${items.length} (time budget)` : ''} ` +
      `(${modes[runModes[0]]?.objects ?? 0})${noFile > 0 ? `; ${noFile} more in the file have no image file` : ''}`,
  ],
  ['model load ms', loadMs.toFixed(0)],
  ['image decode + resize ms (median)', median(decodeMs).toFixed(1)],
  ['encoder ms (median)', median(encodeMs).toFixed(0)],
  ['decoder ms per prompt, batch 1', mean(perPrompt.b1).toFixed(1)],
  [`decoder ms per prompt, batch ${bigBatch}`, mean(perPrompt.bN).toFixed(1)],
  ['decoder batch in the modes', String(batch)],
]
for (const [mode, m] of Object.entries(modes)) {
  rows.push(
    [
      `${mode}: decoder calls per image / per object`,
      `${mean(m.calls).toFixed(0)} / ${(m.calls.reduce((a, b) => a + b, 0) / m.objects).toFixed(1)}`,
    ],
    [`${mode}: greedy ms per object (the selection, decoder runs excluded)`, mean(m.greedyMs).toFixed(1)],
    [`${mode}: seconds per image, end to end`, mean(m.seconds).toFixed(2)],
    [`${mode}: images per hour`, (3600 / mean(m.seconds)).toFixed(0)],
    [
      `${mode}: mean tokens / mean IoU / reached τ`,
      `${mean(m.tokens).toFixed(2)} / ${mean(m.iou).toFixed(4)} / ${(100 * mean(m.reached)).toFixed(1)}%`,
    ],
  )
}
const key = (r: RecordRow) => `${r.image_id}/${r.ann_id}`
const reference = new Map(records.filter((r) => r.mode === 'all').map((r) => [key(r), r]))
for (const mode of modes.all ? runModes.filter((x) => x !== 'all') : []) {
  const m = modes[mode]
  // record by record against the exhaustive choice for the same object
  const pairs = records.filter((r) => r.mode === mode).map((r) => [r, reference.get(key(r))!] as const)
  const drops = pairs.map(([r, ref]) => ref.iou - r.iou)
  rows.push(
    [`${mode} vs all: decoder calls`, `${(mean(modes.all.calls) / mean(m.calls)).toFixed(1)}× fewer`],
    [`${mode} vs all: end-to-end speed`, `${(mean(modes.all.seconds) / mean(m.seconds)).toFixed(1)}× faster`],
    [
      `${mode} − all: mean IoU / mean tokens`,
      `${(mean(m.iou) - mean(modes.all.iou)).toFixed(4)} / ${(100 * (mean(m.tokens) / mean(modes.all.tokens) - 1)).toFixed(1)}%`,
    ],
    [
      `${mode} vs all, per record: same token set / IoU within 0.005 / worst IoU drop`,
      `${pct(pairs.filter(([r, ref]) => r.points.join() === ref.points.join()).length, pairs.length)} / ` +
        `${pct(drops.filter((d) => d <= 0.005).length, pairs.length)} / ${Math.max(0, ...drops).toFixed(4)}`,
    ],
  )
}
rows.push(['peak RSS MB', rss.toFixed(0)])
if (args.device === 'cpu' && first) {
  // the decoder rewrites (fused channel LayerNorms, per-image part run once): same prompts, interleaved
  const plain = await SamEngine.load({device: 'cpu', rewriteDecoder: false})
  const timing = {rewritten: [] as number[], plain: [] as number[]}
  for (let round = 0; round < 3; round++) {
    for (const [name, e] of [
      ['rewritten', engine],
      ['plain', plain],
    ] as const) {
      timing[name].push((await t(() => e.decodePoints(first!.embedding, first!.pts, 1)))[1] / first!.pts.length)
    }
  }
  await plain.release()
  rows.push([
    'decoder ms per prompt, batch 1, plain graph / CPU-rewritten graph (first image, interleaved)',
    `${median(timing.plain).toFixed(1)} / ${median(timing.rewritten).toFixed(1)} ` +
      `(${(median(timing.plain) / median(timing.rewritten)).toFixed(2)}×)`,
  ])
}
const header =
  `### ${new Date().toISOString().slice(0, 10)}, ${args.device} (${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} ` +
  `cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB), n = ${args.grid}, τ = ${args.tau}, ${args.annotations.split('/').pop()}`
const table = [header, '', '| measure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
console.log(table)
if (args.out) writeFileSync(args.out, JSON.stringify({args, rows: Object.fromEntries(rows), records}))
console.log(JSON.stringify({args, rows: Object.fromEntries(rows)}))
if (args.write) appendFileSync(args.write, `\n${table}\n`)
