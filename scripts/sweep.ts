/**
 * Measurement for docs/curation.md: the τ sweep (0.7/0.8/0.9) for both mask
 * policies, and pool against exhaustive candidates, on real COCO images.
 *
 *   node dist/scripts/sweep.js --annotations A --images DIR [--limit N] [--candidates pool|all]
 *        [--margin M] [--grid n] [--out file.json]
 *
 * One decoder call gives all four mask tokens, so both policies are measured
 * from the same prompts; one greedy run to τ = 0.9 gives the runs for lower τ
 * as its prefixes.
 */
import {appendFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {allIndices, objectPool} from '../src/core/selection/candidates.js'
import {greedySelect, truncateAtTau} from '../src/core/selection/greedy.js'
import type {MaskPolicy} from '../src/core/selection/policy.js'
import {mean, sizeClass} from '../src/core/stats.js'
import {readCoco} from '../src/adapters/coco.js'
import {SamEngine} from '../src/sam/engine.js'
import {encodeImageFile} from '../src/pipeline/shared/encode-image.js'
import {prepareObjects} from '../src/pipeline/shared/objects.js'
import {ImageCandidates} from '../src/pipeline/curate/image-candidates.js'
import {resolveImagePath, selectImages} from '../src/pipeline/shared/select-images.js'

const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string', multiple: true},
    images: {type: 'string', multiple: true},
    limit: {type: 'string'},
    candidates: {type: 'string', default: 'pool'},
    margin: {type: 'string', default: '1'},
    grid: {type: 'string', default: '32'},
    out: {type: 'string'},
    // rows are appended per image to this JSONL, so a long sweep can be stopped and resumed, or reported early
    journal: {type: 'string'},
    'report-only': {type: 'boolean', default: false},
  },
})
const TAUS = [0.7, 0.8, 0.9]
// With --candidates all every grid point is decoded, so the pool strategies can be
// replayed on subsets of the same masks: one SAM pass compares them all.
const POLICIES: MaskPolicy[] = ['single', 'best']
const n = Number(args.grid)
const mode = args.candidates as 'all' | 'pool'
const margin = Number(args.margin)

interface Row {
  strategy: string
  image_id: number
  ann_id: number
  area: number
  size: string
  policy: MaskPolicy
  tau: number
  tokens: number
  iou: number
  reached: boolean
}

const engine = await SamEngine.load()
const rows: Row[] = []
const perImage: {image_id: number; decoder_calls: number; seconds: number; objects: number; calls: Record<string, number>}[] = []
const rowsBefore = () => rows.length

const journalled = new Set<number>()
if (args.journal && existsSync(args.journal)) {
  for (const line of readFileSync(args.journal, 'utf8').split('\n')) {
    if (!line) continue
    const entry = JSON.parse(line) as {image: (typeof perImage)[number]; rows: Row[]}
    perImage.push(entry.image)
    rows.push(...entry.rows)
    journalled.add(entry.image.image_id)
  }
}
const strategies: {name: string; mode: 'all' | 'pool'; margin: number}[] =
  mode === 'all'
    ? [{name: 'all', mode: 'all', margin: 0}, ...[0, 1, 2].map((m) => ({name: `pool:${m}`, mode: 'pool' as const, margin: m}))]
    : [{name: `pool:${margin}`, mode, margin}]
for (const [d, annFile] of (args.annotations ?? []).entries()) {
  const data = await readCoco(annFile)
  const items = selectImages(data, {limit: args.limit ? Number(args.limit) : undefined})
  for (const {image, anns} of items) {
    const {objects} = prepareObjects(image, anns, false)
    if (objects.length === 0 || journalled.has(image.id) || args['report-only']) continue
    const firstRow = rowsBefore()
    const t0 = performance.now()
    const embedding = await encodeImageFile(engine, image, resolveImagePath(args.images![d], image, annFile))
    const grid = {n, width: image.width, height: image.height}
    const cache = new ImageCandidates(engine, embedding, grid, POLICIES)
    const used = new Map(strategies.map((st) => [st.name, new Set<number>()]))
    for (const {ann, mask, area} of objects) {
      for (const st of strategies) {
        const indices = st.mode === 'all' ? allIndices(n) : objectPool(mask, grid, st.margin)
        for (const k of indices) used.get(st.name)!.add(k)
        for (const policy of POLICIES) {
          const run = greedySelect(mask, await cache.get(indices, policy), {tau: Math.max(...TAUS), epsilon: 1e-3, maxTokens: 64})
          for (const tau of TAUS) {
            const r = truncateAtTau(run, tau)
            if (r.chosen.length === 0) continue
            rows.push({
              strategy: st.name,
              image_id: image.id,
              ann_id: ann.id,
              area,
              size: sizeClass(area),
              policy,
              tau,
              tokens: r.chosen.length,
              iou: r.iou,
              reached: r.reached,
            })
          }
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000
    const calls = Object.fromEntries([...used].map(([k, v]) => [k, v.size]))
    perImage.push({image_id: image.id, decoder_calls: cache.decoded, seconds, objects: objects.length, calls})
    if (args.journal)
      appendFileSync(args.journal, JSON.stringify({image: perImage[perImage.length - 1], rows: rows.slice(firstRow)}) + '\n')
    process.stderr.write(`\r${perImage.length} images, ${cache.decoded} calls, ${seconds.toFixed(1)} s   `)
  }
}
process.stderr.write('\n')

const table: string[] = [
  '| candidates | policy | τ | size | objects | mean tokens | mean IoU | reached τ | decoder calls / image |',
  '|---|---|---|---|---|---|---|---|---|',
]
for (const st of strategies) {
  const calls = mean(perImage.map((p) => p.calls[st.name]))
  for (const policy of POLICIES) {
    for (const tau of TAUS) {
      for (const size of ['all', 'small', 'medium', 'large']) {
        const rs = rows.filter((r) => r.strategy === st.name && r.policy === policy && r.tau === tau && (size === 'all' || r.size === size))
        table.push(
          `| ${st.name} | ${policy} | ${tau} | ${size} | ${rs.length} | ${mean(rs.map((r) => r.tokens)).toFixed(2)} | ` +
            `${mean(rs.map((r) => r.iou)).toFixed(3)} | ${(100 * mean(rs.map((r) => (r.reached ? 1 : 0)))).toFixed(1)}% | ` +
            `${size === 'all' ? calls.toFixed(0) : ''} |`,
        )
      }
    }
  }
}
const summary = {
  mode,
  margin,
  grid: n,
  images: perImage.length,
  decoder_calls_per_image: mean(perImage.map((p) => p.decoder_calls)),
  seconds_per_image: mean(perImage.map((p) => p.seconds)),
}
console.log(JSON.stringify(summary))
console.log(table.join('\n'))
if (args.out) writeFileSync(args.out, JSON.stringify({summary, perImage, rows}, null, 1))
