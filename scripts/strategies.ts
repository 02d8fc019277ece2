/**
 * Candidate strategies against the exhaustive reference, on the same images and
 * the same SAM masks: every grid point is decoded once per image, then each
 * strategy is replayed and charged for the distinct points it asked for (per
 * image, since the cache is shared by all objects of an image).
 *
 *   node dist/scripts/strategies.js --annotations A --images DIR [--limit N] [--grid 32] [--tau 0.8] [--out f.json]
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import type {CropMask} from '../src/core/sam-geometry.js'
import {parseArgs} from 'node:util'
import {candidateIndices} from '../src/core/candidates.js'
import {type Candidate, greedySelect, type GreedyResult} from '../src/core/greedy.js'
import {lazyGreedySelect} from '../src/core/lazy-greedy.js'
import type {Mask} from '../src/core/mask.js'
import {MASK_POLICIES, type MaskPolicy} from '../src/core/policy.js'
import {mean} from '../src/core/stats.js'
import {readCoco} from '../src/adapters/coco.js'
import {SamEngine} from '../src/adapters/sam.js'
import {encodeImageFile, prepareObjects} from '../src/pipeline/curate-image.js'
import {ImageCandidates} from '../src/pipeline/image-candidates.js'
import {resolveImagePath, selectImages} from '../src/pipeline/select-images.js'

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
  },
})
const n = Number(args.grid)
const tau = Number(args.tau)
const base = {tau, epsilon: 1e-3, maxTokens: 64}

type Run = (gt: Mask, all: Map<number, Candidate>, ask: (k: number[]) => void) => Promise<GreedyResult>
const pick = (all: Map<number, Candidate>, ks: number[]) => ks.map((k) => all.get(k)!)
const grid = (gt: Mask) => ({n, width: gt.width, height: gt.height})
const strategies: Record<string, Run> = {
  all: async (gt, all, ask) => {
    const ks = [...all.keys()]
    ask(ks)
    return greedySelect(gt, pick(all, ks), base)
  },
  ...Object.fromEntries([0, 1, 2].map((m) => [`pool:m${m}`, (async (gt, all, ask) => {
    const ks = candidateIndices(gt, grid(gt), 'fast', m)
    ask(ks)
    return greedySelect(gt, pick(all, ks), base)
  }) as Run])),
  ...Object.fromEntries(
    [[1, 2], [1, 3], [2, 2], [2, 3]].map(([m, s]) => [`lazy:m${m}s${s}`, (async (gt, all, ask) => {
      const pool = candidateIndices(gt, grid(gt), 'fast', m)
      return lazyGreedySelect(gt, n, pool, async (ks) => {
        ask(ks)
        return pick(all, ks)
      }, {...base, stride: s, smallPool: 16})
    }) as Run]),
  ),
}

/**
 * Cover-skip (an experiment): walk the pool from the deepest anchor inside the object outwards and
 * decode a point only if no mask decoded so far for this object, lying mostly inside the object,
 * already covers its anchor (SAM tends to return that same mask there).
 */
function coverSkip(margin: number, precision: number, climb = false, climbMargin = margin): Run {
  return async (gt, all, ask) => {
    const f = grid(gt)
    const pool = candidateIndices(gt, f, 'fast', margin)
    const anchor = (k: number) => [Math.min(gt.width - 1, Math.floor(((k % n) + 0.5) * gt.width / n)), Math.min(gt.height - 1, Math.floor((Math.floor(k / n) + 0.5) * gt.height / n))]
    const inside = (m: Candidate['mask'], x: number, y: number) => x >= m.x0 && y >= m.y0 && x < m.x0 + m.w && y < m.y0 + m.h && m.data[(y - m.y0) * m.w + x - m.x0] === 1
    // anchors inside G first, then the rest, each in raster order
    const order = [...pool].sort((a, b) => {
      const [ax, ay] = anchor(a), [bx, by] = anchor(b)
      return (gt.data[by * gt.width + bx] - gt.data[ay * gt.width + ax]) || a - b
    })
    const covers: Candidate['mask'][] = []
    const decoded: number[] = []
    for (const k of order) {
      const [x, y] = anchor(k)
      if (covers.some((m) => inside(m, x, y))) continue
      decoded.push(k)
      const m = all.get(k)!.mask
      let inG = 0
      for (let yy = 0; yy < m.h; yy++) for (let xx = 0; xx < m.w; xx++) if (m.data[yy * m.w + xx] && gt.data[(m.y0 + yy) * gt.width + m.x0 + xx]) inG++
      if (m.area > 0 && inG / m.area >= precision) covers.push(m)
    }
    if (!climb) {
      ask(decoded)
      return greedySelect(gt, pick(all, decoded), base)
    }
    // then decode the undecoded pool neighbours of the chosen points until the choice settles
    const inPool = new Set(candidateIndices(gt, f, 'fast', climbMargin))
    const have = new Set(decoded)
    for (;;) {
      const r = greedySelect(gt, pick(all, [...have]), base)
      const fresh = r.chosen.flatMap((k) => {
        const i = k % n, j = Math.floor(k / n)
        const out: number[] = []
        for (let v = j - 1; v <= j + 1; v++) for (let u = i - 1; u <= i + 1; u++) {
          const q = v * n + u
          if (u >= 0 && v >= 0 && u < n && v < n && inPool.has(q) && !have.has(q)) out.push(q)
        }
        return out
      })
      if (fresh.length === 0) {
        ask([...have])
        return r
      }
      fresh.forEach((q) => have.add(q))
    }
  }
}
for (const [name, run] of Object.entries({
  'cover:m1p0.5': coverSkip(1, 0.5),
  'cover:m1p0.8': coverSkip(1, 0.8),
  'cover:m2p0.8': coverSkip(2, 0.8),
  'cover+climb:m1p0.8': coverSkip(1, 0.8, true),
  'cover+climb:m1p0.5': coverSkip(1, 0.5, true),
  'cover+climb:m0p0.8': coverSkip(0, 0.8, true),
  'cover+climb:m2p0.9': coverSkip(2, 0.9, true),
  'cover+climb:m0p0.9': coverSkip(0, 0.9, true),
  'cover+climb:m0p0.7': coverSkip(0, 0.7, true),
  'cover+climb:m0p0.8c1': coverSkip(0, 0.8, true, 1),
  'cover+climb:m0p0.9c1': coverSkip(0, 0.9, true, 1),
})) (strategies as Record<string, Run>)[name] = run

/** All n² candidate masks of an image for both policies, from SAM or from --cache. */
async function imageMasks(image: {id: number; width: number; height: number; fileName: string}, _objects: number): Promise<Record<MaskPolicy, Map<number, Candidate>>> {
  const file = args.cache && path.join(args.cache, `${image.id}-n${n}.bin`)
  if (file && existsSync(file)) return readMasks(new Uint8Array(readFileSync(file)))
  const embedding = await encodeImageFile(engine, image, resolveImagePath(args.images!, image, args.annotations!))
  const cache = new ImageCandidates(engine, embedding, {n, width: image.width, height: image.height}, MASK_POLICIES)
  const every = Array.from({length: n * n}, (_, k) => k)
  const out = Object.fromEntries(await Promise.all(MASK_POLICIES.map(async (p) => [p, new Map((await cache.get(every, p)).map((c) => [c.index, c]))]))) as Record<MaskPolicy, Map<number, Candidate>>
  if (file) {
    mkdirSync(args.cache!, {recursive: true})
    writeFileSync(file, writeMasks(out))
  }
  return out
}

// cache layout: per policy, per index: int32 x0, y0, w, h, area, then w·h bytes
function writeMasks(all: Record<MaskPolicy, Map<number, Candidate>>): Uint8Array {
  const parts: Uint8Array[] = []
  for (const p of MASK_POLICIES) {
    for (let k = 0; k < n * n; k++) {
      const m = all[p].get(k)!.mask
      parts.push(new Uint8Array(Int32Array.from([m.x0, m.y0, m.w, m.h, m.area]).buffer), m.data)
    }
  }
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0))
  let at = 0
  for (const q of parts) { out.set(q, at); at += q.length }
  return out
}

function readMasks(buf: Uint8Array): Record<MaskPolicy, Map<number, Candidate>> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let at = 0
  const out = {} as Record<MaskPolicy, Map<number, Candidate>>
  for (const p of MASK_POLICIES) {
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

interface Row {image_id: number; ann_id: number; policy: MaskPolicy; strategy: string; tokens: number; iou: number; reached: boolean}
const rows: Row[] = []
// distinct points each strategy asked SAM for, per image and policy (the cache is per image)
const calls: Record<string, number[]> = Object.fromEntries(Object.keys(strategies).flatMap((s) => MASK_POLICIES.map((p) => [`${s}/${p}`, []])))
const engine = await SamEngine.load()
const data = await readCoco(args.annotations!)
let done = 0
for (const {image, anns} of selectImages(data, {limit: args.limit ? Number(args.limit) : undefined})) {
  const {objects} = prepareObjects(image, anns, false)
  if (objects.length === 0) continue
  const masks = await imageMasks(image, objects.length)
  for (const [name, run] of Object.entries(strategies)) {
    for (const policy of MASK_POLICIES) {
      const asked = new Set<number>()
      for (const {ann, mask} of objects) {
        const r = await run(mask, masks[policy], (ks) => ks.forEach((k) => asked.add(k)))
        rows.push({image_id: image.id, ann_id: ann.id, policy, strategy: name, tokens: r.chosen.length, iou: r.iou, reached: r.reached})
      }
      calls[`${name}/${policy}`].push(asked.size)
    }
  }
  process.stderr.write(`\r${++done} images`)
}
process.stderr.write('\n')
const lines = ['| strategy | policy | decoder calls / image | × fewer than all | mean tokens | mean IoU | reached τ | IoU − all (mean) |', '|---|---|---|---|---|---|---|---|']
for (const policy of MASK_POLICIES) {
  const ref = rows.filter((r) => r.policy === policy && r.strategy === 'all')
  for (const name of Object.keys(strategies)) {
    const rs = rows.filter((r) => r.policy === policy && r.strategy === name)
    const c = mean(calls[`${name}/${policy}`])
    lines.push(`| ${name} | ${policy} | ${c.toFixed(0)} | ${(mean(calls[`all/${policy}`]) / c).toFixed(1)} | ${mean(rs.map((r) => r.tokens)).toFixed(2)} | ${mean(rs.map((r) => r.iou)).toFixed(4)} | ${(100 * mean(rs.map((r) => +r.reached))).toFixed(1)}% | ${(mean(rs.map((r) => r.iou)) - mean(ref.map((r) => r.iou))).toFixed(4)} |`)
  }
}
console.log(`${done} images, n = ${n}, τ = ${tau}`)
console.log(lines.join('\n'))
if (args.out) writeFileSync(args.out, JSON.stringify({n, tau, calls, rows}, null, 1))
