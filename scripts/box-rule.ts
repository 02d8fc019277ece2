/**
 * The two decode rules on the same images (SPEC §4, §8): the union rule as curated by default
 * (`--candidates fast`), and the box rule under several candidate orders (core/selection/
 * box-candidates.ts), by COCO size class. Writes one JSON line per object and per image to --out
 * (appended, so a run can be stopped and resumed: images already there are skipped), then the
 * tables (docs/benchmarks.md "Box rule") from that file:
 *
 *   node dist/scripts/box-rule.js --annotations A --images DIR --out rows.jsonl [--limit N] [--image-ids 1,2]
 *        [--grid 32] [--tau 0.8] [--timed miss:8] [--orders miss:2,miss:4,miss:16,pool:m0]
 *        [--heavy all,pool:m1 --heavy-ids 1,2]
 *   node dist/scripts/box-rule.js --report rows.jsonl [--report more.jsonl]
 *
 * Per image the union rule and the `--timed` order each run on a fresh start (their order
 * alternates image by image, so a machine busy with other work weighs on both alike): that is the
 * seconds-per-image comparison. The other orders replay after them, their joint prompts memoised
 * per object across orders (the same point set is the same prompt), and are charged for every
 * prompt they ask, memoised or not; `--heavy` orders run only on `--heavy-ids` images. Also per
 * object: the box alone under both policies (one prompt, both come from it) and the box with the
 * union's own points (one prompt).
 */
import {appendFileSync, existsSync, readFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {answerBoxCorners, boxPrompt, curationBox} from '../src/core/decode/prompts.js'
import {type GridFrame, cellToAnchor, indexToCell} from '../src/core/grid/grid.js'
import type {CropMask} from '../src/core/masks/crop-mask.js'
import {maskArea} from '../src/core/masks/mask.js'
import {type BoxOrder, boxOrderName, parseBoxOrder} from '../src/core/selection/box-candidates.js'
import {type JointMasks, cropIou} from '../src/core/selection/box-greedy.js'
import type {GreedyResult} from '../src/core/selection/greedy.js'
import {sizeClass} from '../src/core/stats.js'
import type {CocoImage} from '../src/core/coco/records.js'
import {readCoco} from '../src/adapters/coco.js'
import {SamEngine} from '../src/sam/engine.js'
import {encodeImageFile} from '../src/pipeline/shared/encode-image.js'
import {type PreparedObject, prepareObjects} from '../src/pipeline/shared/objects.js'
import {resolveImagePath, selectImages} from '../src/pipeline/shared/select-images.js'
import {ImageCandidates} from '../src/pipeline/curate/image-candidates.js'
import {type CurateOptions, selectPoints} from '../src/pipeline/curate/curate-image.js'
import {selectBoxPoints} from '../src/pipeline/curate/box-select.js'
import {promptMask} from '../src/pipeline/decode/decode.js'
import {report} from './box-rule-report.js'

const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string'},
    images: {type: 'string'},
    out: {type: 'string'},
    limit: {type: 'string'},
    'image-ids': {type: 'string'},
    grid: {type: 'string', default: '32'},
    tau: {type: 'string', default: '0.8'},
    timed: {type: 'string', default: 'miss:8'},
    orders: {type: 'string', default: ''},
    heavy: {type: 'string', default: ''},
    'heavy-ids': {type: 'string', default: ''},
    report: {type: 'string', multiple: true},
  },
})

/** One object's figures under one rule or order. */
export interface Outcome {
  iou: number
  tokens: number
  reached: boolean
  calls: number
  runs: number
}

export interface ObjectRow {
  kind: 'object'
  image_id: number
  ann_id: number
  area: number
  size: ReturnType<typeof sizeClass>
  union: Outcome
  box_alone: {single: number; best: number}
  box_union_points: number
  orders: Record<string, Outcome>
}

export interface ImageRow {
  kind: 'image'
  image_id: number
  objects: number
  encode_s: number
  /** selection seconds (decoder runs included) for the union rule and the timed box order */
  union_s: number
  box_s: number
  timed: string
  union_calls: number
  union_runs: number
  box_calls: number
  box_runs: number
}

const ids = (s: string) => (s ? s.split(',').map(Number) : [])
const orderList = (s: string) => (s ? s.split(',').map(parseBoxOrder) : [])

if (args.report) {
  report(args.report.flatMap(readRows))
} else {
  await measure()
}

async function measure(): Promise<void> {
  const options: CurateOptions = {
    grid: Number(args.grid),
    tau: Number(args.tau),
    epsilon: 1e-3,
    maxTokens: 64,
    policy: 'single',
    candidates: 'fast',
    margin: 1,
    includeCrowd: false,
    tokenStyle: 'plain',
    batch: 1,
  }
  const done = new Set(
    readRows(args.out!)
      .filter((r) => r.kind === 'image')
      .map((r) => r.image_id),
  )
  const engine = await SamEngine.load()
  const data = await readCoco(args.annotations!)
  const items = selectImages(data, {
    limit: args.limit ? Number(args.limit) : undefined,
    imageIds: args['image-ids'] ? ids(args['image-ids']) : undefined,
  })
  let k = 0
  for (const {image, anns} of items) {
    const {objects} = prepareObjects(image, anns, false)
    if (objects.length === 0 || done.has(image.id)) continue
    const row = await measureImage(engine, image, objects, options, k++ % 2 === 0)
    process.stderr.write(`\r${k} images (${image.id}: union ${row.union_s.toFixed(1)} s, box ${row.box_s.toFixed(1)} s)   `)
  }
  process.stderr.write('\n')
  await engine.release()
}

function readRows(file: string): (ObjectRow | ImageRow)[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ObjectRow | ImageRow)
}

/** Both rules on one image, the union rule first when `unionFirst`; its rows appended to --out. */
async function measureImage(
  engine: SamEngine,
  image: CocoImage,
  objects: PreparedObject[],
  options: CurateOptions,
  unionFirst: boolean,
): Promise<ImageRow> {
  const grid: GridFrame = {n: options.grid, width: image.width, height: image.height}
  const t0 = performance.now()
  const embedding = await encodeImageFile(engine, image, resolveImagePath(args.images!, image, args.annotations!))
  const encodeS = (performance.now() - t0) / 1000
  const memos = objects.map(() => new Map<string, CropMask>())
  const counted = async <T>(work: () => Promise<T[]>) => {
    const [calls0, runs0, start] = [engine.decoderCalls, engine.decoderRuns, performance.now()]
    const results = await work()
    return {results, s: (performance.now() - start) / 1000, calls: engine.decoderCalls - calls0, runs: engine.decoderRuns - runs0}
  }
  const unionRun = () => {
    const cache = new ImageCandidates(engine, embedding, grid, [options.policy], options.batch)
    return counted(async () => {
      const results = []
      for (const o of objects) results.push(await selectPoints(o.mask, grid, cache, options))
      return results
    })
  }
  const boxRun = (order: BoxOrder) =>
    counted(async () => {
      const results = []
      for (const [m, o] of objects.entries()) results.push(await boxOrder(engine, embedding, o, grid, options, order, memos[m]))
      return results
    })
  // alternate which rule goes first, so that machine load weighs on both alike
  const timed = parseBoxOrder(args.timed!)
  const u = unionFirst ? await unionRun() : undefined
  const b = await boxRun(timed)
  const union = u ?? (await unionRun())
  const orders = new Map([[boxOrderName(timed), b.results]])
  const heavy = new Set(ids(args['heavy-ids']!)).has(image.id) ? orderList(args.heavy!) : []
  for (const order of [...orderList(args.orders!), ...heavy]) {
    if (!orders.has(boxOrderName(order))) orders.set(boxOrderName(order), (await boxRun(order)).results)
  }
  for (const [m, o] of objects.entries()) {
    const g = union.results[m]
    const extra = await extraPrompts(engine, embedding, o, grid, g.chosen)
    appendFileSync(args.out!, JSON.stringify(objectRow(image, o, g, extra, orders, m)) + '\n')
  }
  const row: ImageRow = {
    ...{kind: 'image' as const, image_id: image.id, objects: objects.length, encode_s: encodeS},
    ...{union_s: union.s, box_s: b.s, timed: boxOrderName(timed)},
    ...{union_calls: union.calls, union_runs: union.runs, box_calls: b.calls, box_runs: b.runs},
  }
  appendFileSync(args.out!, JSON.stringify(row) + '\n')
  return row
}

function objectRow(
  image: CocoImage,
  o: PreparedObject,
  union: GreedyResult,
  extra: Pick<ObjectRow, 'box_alone' | 'box_union_points'>,
  orders: Map<string, Outcome[]>,
  m: number,
): ObjectRow {
  return {
    kind: 'object',
    image_id: image.id,
    ann_id: o.ann.id,
    area: o.area,
    size: sizeClass(o.area),
    union: {iou: union.iou, tokens: union.chosen.length, reached: union.reached, calls: 0, runs: 0},
    ...extra,
    orders: Object.fromEntries([...orders].map(([name, rs]) => [name, rs[m]])),
  }
}

/** One order on one object, its joint prompts memoised across orders; charged for every prompt it asks. */
async function boxOrder(
  engine: SamEngine,
  embedding: Awaited<ReturnType<typeof encodeImageFile>>,
  o: PreparedObject,
  grid: GridFrame,
  options: CurateOptions,
  order: BoxOrder,
  memo: Map<string, CropMask>,
): Promise<Outcome> {
  const runSize = options.batch
  let calls = 0
  let runs = 0
  const wrap =
    (inner: JointMasks): JointMasks =>
    async (sets) => {
      calls += sets.length
      runs += Math.ceil(sets.length / runSize)
      const missing = sets.filter((s) => !memo.has(s.join(',')))
      const got = missing.length > 0 ? await inner(missing) : []
      missing.forEach((s, k) => memo.set(s.join(','), got[k]))
      return sets.map((s) => memo.get(s.join(','))!)
    }
  const {greedy} = await selectBoxPoints(engine, embedding, o, grid, {...options, order, runSize}, wrap)
  return {iou: greedy.iou, tokens: greedy.chosen.length, reached: greedy.reached, calls, runs}
}

/** The box alone under both policies (one prompt) and the box with the union's own points (one prompt). */
async function extraPrompts(
  engine: SamEngine,
  embedding: Awaited<ReturnType<typeof encodeImageFile>>,
  o: PreparedObject,
  grid: GridFrame,
  unionPoints: readonly number[],
): Promise<Pick<ObjectRow, 'box_alone' | 'box_union_points'>> {
  const {box, boxMoves} = curationBox(o.bbox, grid)
  const [tl, br] = answerBoxCorners(box, boxMoves, grid)
  const anchors = [...unionPoints].sort((a, b) => a - b).map((k) => cellToAnchor(...indexToCell(k, grid.n), grid))
  const gtArea = maskArea(o.mask)
  const empty = new Uint8Array(o.mask.data.length)
  const iou = (m: CropMask) => cropIou(o.mask, gtArea, m, empty)
  const [alone, withPoints] = await engine.decodePrompts(embedding, [boxPrompt(tl, br, []), boxPrompt(tl, br, anchors)])
  return {
    box_alone: {single: iou(promptMask(alone, 'single', embedding)), best: iou(promptMask(alone, 'best', embedding))},
    box_union_points: iou(promptMask(withPoints, 'single', embedding)),
  }
}
