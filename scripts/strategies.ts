/**
 * Candidate strategies against the exhaustive reference, on the same images and
 * the same SAM masks: every grid point is decoded once per image, then each
 * strategy is replayed and charged for the distinct points it asked for (per
 * image, since the cache is shared by all objects of an image).
 *
 *   node dist/scripts/strategies.js --annotations A --images DIR [--limit N] [--grid 32] [--tau 0.8] [--out f.json]
 */
import {writeFileSync} from 'node:fs'
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
function coverSkip(margin: number, precision: number): Run {
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
    ask(decoded)
    return greedySelect(gt, pick(all, decoded), base)
  }
}
(strategies as Record<string, Run>)['cover:m1p0.5'] = coverSkip(1, 0.5)
;(strategies as Record<string, Run>)['cover:m1p0.8'] = coverSkip(1, 0.8)
;(strategies as Record<string, Run>)['cover:m2p0.8'] = coverSkip(2, 0.8)

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
  const embedding = await encodeImageFile(engine, image, resolveImagePath(args.images!, image, args.annotations!))
  const cache = new ImageCandidates(engine, embedding, {n, width: image.width, height: image.height}, MASK_POLICIES)
  const every = Array.from({length: n * n}, (_, k) => k)
  const masks = Object.fromEntries(await Promise.all(MASK_POLICIES.map(async (p) => [p, new Map((await cache.get(every, p)).map((c) => [c.index, c]))])))
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
