/**
 * Candidate strategies against the exhaustive reference, on the same images and
 * the same SAM masks: every grid point is decoded once per image, then each
 * strategy is replayed and charged for the distinct points it asked for (per
 * image, since the cache is shared by all objects of an image).
 *
 *   node dist/scripts/strategies.js --annotations A --images DIR [--limit N] [--grid 32] [--tau 0.8] [--out f.json]
 *        [--cache DIR [--cached-only]] [--only 'name,name'] [--policies single]
 *
 * --cache keeps each image's masks (gzip, a few MB an image) so that later replays need no SAM;
 * --cached-only replays only the images already there; --only picks strategies (`all` always runs);
 * --policies replays (and caches) only these mask policies: `single` alone builds the cache in about
 * half the time (each policy's masks are converted to image resolution separately).
 */
import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {gunzipSync, gzipSync} from 'node:zlib'
import * as path from 'node:path'
import type {CropMask} from '../src/core/masks/crop-mask.js'
import {parseArgs} from 'node:util'
import {objectPool} from '../src/core/selection/candidates.js'
import {type Candidate, greedySelect, type GreedyResult} from '../src/core/selection/greedy.js'
import {coverGreedySelect} from '../src/core/selection/cover-greedy.js'
import type {Mask} from '../src/core/masks/mask.js'
import {MASK_POLICIES, type MaskPolicy} from '../src/core/selection/policy.js'
import {mean} from '../src/core/stats.js'
import {readCoco} from '../src/adapters/coco.js'
import {SamEngine} from '../src/sam/engine.js'
import {encodeImageFile} from '../src/pipeline/shared/encode-image.js'
import {prepareObjects} from '../src/pipeline/shared/objects.js'
import {ImageCandidates} from '../src/pipeline/curate/image-candidates.js'
import {resolveImagePath, selectImages} from '../src/pipeline/shared/select-images.js'
import {type CoverVariant, coverVariants} from './strategy-variants.js'

const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string'},
    images: {type: 'string'},
    limit: {type: 'string'},
    grid: {type: 'string', default: '32'},
    tau: {type: 'string', default: '0.8'},
    out: {type: 'string'},
    // folder of per-image candidate masks: written on the first run, read (no SAM) on later ones
    cache: {type: 'string'},
    // replay only the images already in --cache (no SAM)
    'cached-only': {type: 'boolean', default: false},
    // comma-separated strategy names to replay (default: all of them)
    only: {type: 'string'},
    // comma-separated mask policies, in MASK_POLICIES order (default: all of them)
    policies: {type: 'string'},
  },
})
const policies = args.policies ? MASK_POLICIES.filter((p) => args.policies!.split(',').includes(p)) : MASK_POLICIES
if (policies.length === 0) throw new Error(`--policies: none of ${MASK_POLICIES.join(', ')}`)
// a cache file holds a prefix of MASK_POLICIES (block b is MASK_POLICIES[b]), so it is built up to the last policy asked for
const cached = MASK_POLICIES.slice(0, MASK_POLICIES.indexOf(policies[policies.length - 1]) + 1)
const n = Number(args.grid)
const tau = Number(args.tau)
const base = {tau, epsilon: 1e-3, maxTokens: 64}

// `asked`: the points prompted so far for the image's earlier objects (what a shared per-image cache holds)
type Run = (gt: Mask, all: Map<number, Candidate>, ask: (k: number[]) => void, asked: ReadonlySet<number>) => Promise<GreedyResult>
const pick = (all: Map<number, Candidate>, ks: number[]) => ks.map((k) => all.get(k)!)
const grid = (gt: Mask) => ({n, width: gt.width, height: gt.height})
const strategies: Record<string, Run> = {
  all: async (gt, all, ask) => {
    const ks = [...all.keys()]
    ask(ks)
    return greedySelect(gt, pick(all, ks), base)
  },
  ...Object.fromEntries(
    [0, 1, 2].map((m) => [
      `pool:m${m}`,
      (async (gt, all, ask) => {
        const ks = objectPool(gt, grid(gt), m)
        ask(ks)
        return greedySelect(gt, pick(all, ks), base)
      }) as Run,
    ]),
  ),
}

function cover(v: CoverVariant): Run {
  return async (gt, all, ask, asked) => {
    const pool = objectPool(gt, grid(gt), v.margin)
    const fetch = async (ks: number[]) => {
      ask(ks)
      return pick(all, ks)
    }
    const known = v.shared ? pick(all, [...asked]) : undefined
    const options = {
      ...base,
      precision: v.precision,
      order: v.order,
      outside: v.outside,
      climbPrecision: v.skip,
      climbMargin: v.cm,
      climbRatio: v.ratio,
      known,
      sparseAbove: v.sparse && {checker: v.sparse[0], quarter: v.sparse[1]},
      outsideMaxPool: v.outMax,
      climbEdgesAbove: v.edgesAbove,
      outsideMinCover: v.minCover,
      climbOutsideMaxPool: v.climbOutMax,
      climbSkipAbove: v.skipAbove,
    }
    return coverGreedySelect(gt, grid(gt), pool, fetch, options)
  }
}
for (const [name, v] of Object.entries(coverVariants)) strategies[name] = cover(v)
if (args.only) {
  const keep = new Set(['all', ...args.only.split(',')])
  for (const name of Object.keys(strategies)) if (!keep.has(name)) delete strategies[name]
}

/** All n² candidate masks of an image for the cached policies, from SAM or from --cache. */
async function imageMasks(image: {
  id: number
  width: number
  height: number
  fileName: string
}): Promise<Record<MaskPolicy, Map<number, Candidate>>> {
  // gzip: SAM masks are long runs, so the cache shrinks ~50× and reads back faster than raw bytes
  const file = args.cache && path.join(args.cache, `${image.id}-n${n}.bin.gz`)
  if (file && existsSync(file)) return readMasks(new Uint8Array(gunzipSync(readFileSync(file))))
  const embedding = await encodeImageFile(engine, image, resolveImagePath(args.images!, image, args.annotations!))
  const cache = new ImageCandidates(engine, embedding, {n, width: image.width, height: image.height}, cached)
  const every = Array.from({length: n * n}, (_, k) => k)
  const out = Object.fromEntries(
    await Promise.all(cached.map(async (p) => [p, new Map((await cache.get(every, p)).map((c) => [c.index, c]))])),
  ) as Record<MaskPolicy, Map<number, Candidate>>
  if (file) {
    mkdirSync(args.cache!, {recursive: true})
    writeFileSync(`${file}.partial`, gzipSync(writeMasks(out), {level: 1}))
    renameSync(`${file}.partial`, file)
  }
  return out
}

// cache layout: per policy (a prefix of MASK_POLICIES), per index: int32 x0, y0, w, h, area, then w·h bytes
function writeMasks(all: Record<MaskPolicy, Map<number, Candidate>>): Uint8Array {
  const parts: Uint8Array[] = []
  for (const p of cached) {
    for (let k = 0; k < n * n; k++) {
      const m = all[p].get(k)!.mask
      parts.push(new Uint8Array(Int32Array.from([m.x0, m.y0, m.w, m.h, m.area]).buffer), m.data)
    }
  }
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0))
  let at = 0
  for (const q of parts) {
    out.set(q, at)
    at += q.length
  }
  return out
}

function readMasks(buf: Uint8Array): Record<MaskPolicy, Map<number, Candidate>> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = 0
  const out = {} as Record<MaskPolicy, Map<number, Candidate>>
  for (const p of cached) {
    if (at >= buf.length)
      throw new Error(`a cache file holds no ${p} masks: rebuild it, or replay with --policies ${Object.keys(out).join(',')}`)
    out[p] = new Map()
    for (let k = 0; k < n * n; k++) {
      const [x0, y0, w, h, area] = [0, 1, 2, 3, 4].map((f) => view.getInt32(at + 4 * f, true))
      at += 20
      const mask: CropMask = {x0, y0, w, h, area, data: buf.slice(at, at + w * h)}
      at += w * h
      out[p].set(k, {index: k, mask})
    }
  }
  return out
}

interface Row {
  image_id: number
  ann_id: number
  policy: MaskPolicy
  strategy: string
  tokens: number
  iou: number
  reached: boolean
}
const rows: Row[] = []
// distinct points each strategy asked SAM for, per image and policy (the cache is per image)
const calls: Record<string, number[]> = Object.fromEntries(Object.keys(strategies).flatMap((s) => policies.map((p) => [`${s}/${p}`, []])))
const engine = await SamEngine.load()
const data = await readCoco(args.annotations!)
let done = 0
for (const {image, anns} of selectImages(data, {limit: args.limit ? Number(args.limit) : undefined})) {
  const {objects} = prepareObjects(image, anns, false)
  if (objects.length === 0) continue
  if (args['cached-only'] && !existsSync(path.join(args.cache ?? '', `${image.id}-n${n}.bin.gz`))) continue
  const masks = await imageMasks(image)
  for (const [name, run] of Object.entries(strategies)) {
    for (const policy of policies) {
      const asked = new Set<number>()
      for (const {ann, mask} of objects) {
        const r = await run(mask, masks[policy], (ks) => ks.forEach((k) => asked.add(k)), asked)
        rows.push({image_id: image.id, ann_id: ann.id, policy, strategy: name, tokens: r.chosen.length, iou: r.iou, reached: r.reached})
      }
      calls[`${name}/${policy}`].push(asked.size)
    }
  }
  process.stderr.write(`\r${++done} images`)
}
process.stderr.write('\n')
const lines = [
  '| strategy | policy | decoder calls / image | × fewer than all | mean tokens | mean IoU | reached τ | IoU − all (mean) |',
  '|---|---|---|---|---|---|---|---|',
]
for (const policy of policies) {
  const ref = rows.filter((r) => r.policy === policy && r.strategy === 'all')
  for (const name of Object.keys(strategies)) {
    const rs = rows.filter((r) => r.policy === policy && r.strategy === name)
    const c = mean(calls[`${name}/${policy}`])
    lines.push(
      `| ${name} | ${policy} | ${c.toFixed(0)} | ${(mean(calls[`all/${policy}`]) / c).toFixed(1)} | ` +
        `${mean(rs.map((r) => r.tokens)).toFixed(2)} | ${mean(rs.map((r) => r.iou)).toFixed(4)} | ` +
        `${(100 * mean(rs.map((r) => +r.reached))).toFixed(1)}% | ` +
        `${(mean(rs.map((r) => r.iou)) - mean(ref.map((r) => r.iou))).toFixed(4)} |`,
    )
  }
}
console.log(`${done} images, n = ${n}, τ = ${tau}`)
console.log(lines.join('\n'))
if (args.out) writeFileSync(args.out, JSON.stringify({n, tau, calls, rows}, null, 1))
