/**
 * A curate output folder at COCO scale for timing `getok export` (docs/export.md, "Speed and memory"):
 * the records of a real curate folder replicated with new ids until --records, written as curate
 * writes them (shards of --shard-size images, each with its .stats.json, then manifest.json).
 *
 *   node bin/run.js curate --annotations fixtures/sample/instances.json --images fixtures/sample/images --out /tmp/cur
 *   node dist/scripts/bench-export.js --from /tmp/cur --records 860000 --out /tmp/coco-cur
 *   /usr/bin/time -v node bin/run.js export --curated /tmp/coco-cur --format swift -o /tmp/coco-swift
 *
 * Replica r gets image ids r·10⁶ + id and annotation ids r·10¹⁰ + id; file names, categories and
 * tokens stay as they are, so every replica exports as its source does. Never commit the folder.
 * `npm run bench -- --only export` (scripts/bench-export-run.ts) makes such folders with
 * buildCuratedFolder and times the export of each, peak RSS included, in one run.
 */
import {createHash} from 'node:crypto'
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {shardFileName, type ShardStats} from '../src/adapters/shards.js'
import type {Manifest} from '../src/pipeline/shared/sharded-run.js'

const IMAGE_ID_STEP = 1_000_000
const ANN_ID_STEP = 10_000_000_000

type Row = Record<string, unknown> & {image_id: number; ann_id: number}

export interface CuratedFolderOptions {
  /** a curate output folder whose records are replicated */
  from: string
  records: number
  /** a missing or empty folder */
  out: string
  /** images a shard */
  shardSize: number
}

export interface CuratedFolder {
  records: number
  images: number
  shards: number
}

/** The source folder's records, grouped by image in file order. */
function sourceImages(dir: string): {manifest: Manifest; images: Row[][]} {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest
  const byImage = new Map<number, Row[]>()
  for (const shard of manifest.shards) {
    for (const line of readFileSync(path.join(dir, shard.file), 'utf8').split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as Row
      byImage.set(row.image_id, [...(byImage.get(row.image_id) ?? []), row])
    }
  }
  return {manifest, images: [...byImage.values()]}
}

/** Units (images) of replicated records, replica by replica, until `target` records. */
function* replicatedUnits(images: Row[][], target: number): Generator<Row[]> {
  let written = 0
  for (let r = 1; written < target; r++) {
    for (const rows of images) {
      if (written >= target) return
      const unit = rows.slice(0, target - written).map((row) => ({
        ...row,
        image_id: r * IMAGE_ID_STEP + row.image_id,
        ann_id: r * ANN_ID_STEP + row.ann_id,
      }))
      written += unit.length
      yield unit
    }
  }
}

function writeShard(out: string, file: string, units: Row[][]): ShardStats {
  const bytes = Buffer.from(
    units
      .flat()
      .map((r) => JSON.stringify(r) + '\n')
      .join(''),
    'utf8',
  )
  writeFileSync(path.join(out, file), bytes)
  const stats: ShardStats = {
    shard: file,
    records: units.reduce((n, u) => n + u.length, 0),
    units: units.length,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    skips: [],
  }
  writeFileSync(path.join(out, file.replace(/\.jsonl$/, '.stats.json')), JSON.stringify(stats, null, 1) + '\n')
  return stats
}

/** Writes `records` replicated records of `from` into `out` as curate would; what it wrote. */
export function buildCuratedFolder(options: CuratedFolderOptions): CuratedFolder {
  const {records: target, shardSize, out} = options
  const {manifest, images} = sourceImages(options.from)
  mkdirSync(out, {recursive: true})
  if (readdirSync(out).length > 0) throw new Error(`${out} is not empty`)
  // one pass to count the images (the shard names hold the count), one to write shard by shard
  let imageCount = 0
  for (const _ of replicatedUnits(images, target)) imageCount++
  const count = Math.ceil(imageCount / shardSize)
  const shards: ShardStats[] = []
  let batch: Row[][] = []
  for (const unit of replicatedUnits(images, target)) {
    batch.push(unit)
    if (batch.length < shardSize) continue
    shards.push(writeShard(out, shardFileName('curate', shards.length, count), batch))
    batch = []
  }
  if (batch.length > 0) shards.push(writeShard(out, shardFileName('curate', shards.length, count), batch))
  const records = shards.reduce((n, s) => n + s.records, 0)
  const made: Manifest = {
    ...manifest,
    created: new Date().toISOString(),
    config: {...manifest.config, annotations_images: imageCount},
    shards: shards.map((s) => ({file: s.shard, records: s.records, units: s.units, bytes: s.bytes, sha256: s.sha256})),
    skips: [],
    summary: {records, note: `bench-export: ${options.from} replicated`},
  }
  writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(made, null, 2) + '\n')
  return {records, images: imageCount, shards: count}
}

function main(): void {
  const {values: args} = parseArgs({
    options: {
      from: {type: 'string', default: 'fixtures/curated-box'},
      records: {type: 'string', default: '860000'},
      out: {type: 'string', default: '/tmp/getok-bench-export'},
      'shard-size': {type: 'string', default: '1000'},
    },
  })
  const out = args.out
  const made = buildCuratedFolder({from: args.from, records: Number(args.records), out, shardSize: Number(args['shard-size'])})
  console.log(`${made.records} records, ${made.images} images, ${made.shards} shards → ${out}`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
