/**
 * Measurement for docs/offsets.md: region and offset-token histograms of all
 * grid points, what the sampling quotas make of them, shortfalls, tie counts
 * and speed, on COCO annotation files.
 *
 *   npx tsx scripts/offsets-histogram.ts --annotations A [--annotations B] [--grid 32] [--k 16]
 *        [--quota ring=…,…] [--hard-band 2] [--out file.json]
 */
import {writeFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {MOVES} from '../src/core/grid/grid.js'
import {type Region, type RegionCounts, REGIONS, classifyGrid} from '../src/core/offsets/regions.js'
import {DEFAULT_K, DEFAULT_QUOTA_TEXT, parseQuotas} from '../src/core/offsets/sampling.js'
import {offsetToken} from '../src/core/grid/tokens.js'
import {readCoco} from '../src/adapters/coco.js'
import {type PreparedObject, prepareObjects} from '../src/pipeline/shared/objects.js'
import {type OffsetsOptions, offsetsRecord} from '../src/pipeline/offsets/offsets-object.js'
import type {CocoImage} from '../src/adapters/coco.js'

const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string', multiple: true},
    grid: {type: 'string', default: '32'},
    k: {type: 'string', default: String(DEFAULT_K)},
    quota: {type: 'string', multiple: true},
    'hard-band': {type: 'string', default: '2'},
    out: {type: 'string'},
  },
})
const n = Number(args.grid)
const k = Number(args.k)
const quotaTexts = args.quota ?? [DEFAULT_QUOTA_TEXT, 'ring=0.25,inside=0.25,hard=0.25,far=0.25']
const base: OffsetsOptions = {
  grid: n,
  k,
  quotas: parseQuotas(quotaTexts[0]),
  seed: 0,
  hardBand: Number(args['hard-band']),
  flipV: false,
  ties: 'axis-first',
  tokenStyle: 'plain',
  includeCrowd: false,
}

type Obj = {image: CocoImage; object: PreparedObject}
const zero = (): RegionCounts => ({ring: 0, inside: 0, hard_delete: 0, far: 0})
const tokenZero = () => Object.fromEntries([...MOVES, 'delete' as const].map((m) => [offsetToken(m), 0])) as Record<string, number>

async function loadObjects(): Promise<{objects: Obj[]; maskSeconds: number}> {
  const objects: Obj[] = []
  let maskSeconds = 0
  for (const file of args.annotations ?? []) {
    const data = await readCoco(file)
    for (const image of data.images.values()) {
      const t0 = performance.now()
      const prepared = prepareObjects(image, data.annotationsByImage.get(image.id) ?? [], false)
      maskSeconds += (performance.now() - t0) / 1000
      for (const object of prepared.objects) objects.push({image, object})
    }
  }
  return {objects, maskSeconds}
}

/** All grid points: regions and target tokens, under both tie orders. */
function population(objects: Obj[]) {
  const regions = zero()
  const tokens = {'axis-first': tokenZero(), moves: tokenZero()}
  const perObject: RegionCounts[] = []
  let seconds = 0
  for (const {image, object} of objects) {
    const frame = {n, width: image.width, height: image.height}
    const t0 = performance.now()
    const grid = classifyGrid(object.mask, frame, base)
    seconds += (performance.now() - t0) / 1000
    const mine = zero()
    grid.regions.forEach((r, idx) => {
      regions[r]++
      mine[r]++
      tokens['axis-first'][offsetToken(grid.targets[idx])]++
    })
    classifyGrid(object.mask, frame, {...base, ties: 'moves'}).targets.forEach((t) => tokens.moves[offsetToken(t)]++)
    perObject.push(mine)
  }
  return {regions, tokens, perObject, seconds}
}

function sampled(objects: Obj[], quotaText: string) {
  const regions = zero()
  const tokens = tokenZero()
  const shortObjects = zero()
  let seconds = 0
  const categories = new Map<number, string>()
  for (const {image, object} of objects) {
    const t0 = performance.now()
    const record = offsetsRecord(image, object, categories, {...base, quotas: parseQuotas(quotaText)})
    seconds += (performance.now() - t0) / 1000
    for (const p of record.pairs) {
      regions[p.region]++
      tokens[offsetToken(p.offset)]++
    }
    for (const r of REGIONS) if (record.shortfall[r]) shortObjects[r]++
  }
  return {quota: quotaText, regions, tokens, shortObjects, seconds}
}

function quantiles(values: number[]) {
  const s = [...values].sort((a, b) => a - b)
  const q = (p: number) => s[Math.floor(p * (s.length - 1))]
  return {
    mean: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(2),
    p10: q(0.1),
    p25: q(0.25),
    median: q(0.5),
    p75: q(0.75),
    p90: q(0.9),
    zero: s.filter((v) => v === 0).length,
  }
}

const share = (c: Record<string, number>) => {
  const total = Object.values(c).reduce((a, b) => a + b, 0)
  return Object.fromEntries(Object.entries(c).map(([key, v]) => [key, `${v} (${((100 * v) / total).toFixed(1)}%)`]))
}

const {objects, maskSeconds} = await loadObjects()
const pop = population(objects)
const samples = quotaTexts.map((q) => sampled(objects, q))
const perRegion = (r: Region) => quantiles(pop.perObject.map((c) => c[r]))
const report = {
  files: args.annotations,
  grid: n,
  k,
  hard_band: base.hardBand,
  objects: objects.length,
  population: {
    regions: share(pop.regions),
    tokens_axis_first: share(pop.tokens['axis-first']),
    tokens_moves_order: share(pop.tokens.moves),
  },
  per_object: {
    inside: perRegion('inside'),
    ring: perRegion('ring'),
    hard_delete: perRegion('hard_delete'),
    unreachable: pop.perObject.filter((c) => c.inside + c.ring === 0).length,
  },
  sampled: samples.map((s) => ({
    quota: s.quota,
    regions: share(s.regions),
    tokens: share(s.tokens),
    objects_short: s.shortObjects,
    objects_per_second: Math.round(objects.length / s.seconds),
  })),
  speed: {
    rasterise_objects_per_second: Math.round(objects.length / maskSeconds),
    classify_objects_per_second: Math.round(objects.length / pop.seconds),
  },
}
console.log(JSON.stringify(report, null, 1))
if (args.out) writeFileSync(args.out, JSON.stringify(report, null, 1) + '\n')
