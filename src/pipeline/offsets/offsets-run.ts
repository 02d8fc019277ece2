/**
 * `getok offsets` end to end: read annotations, choose images, claim the
 * output folder, build offset records image by image into shards (resumable),
 * write the manifest with region and offset-token counts. No SAM, no image
 * decoding: with --images each image file's header is read to check that it
 * exists and has the annotated size; without it nothing is read.
 */
import {existsSync, statSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import * as path from 'node:path'
import {type Cell} from '../../core/grid/grid.js'
import {GetokError} from '../../core/errors.js'
import {reasonKey} from '../../core/stats.js'
import {type TokenStyle, cellsToSegTokens} from '../../core/grid/tokens.js'
import {type CocoDataset, type CocoImage, readCoco} from '../../adapters/coco.js'
import {loadImage} from '../../adapters/images.js'
import {type Skip, readJsonl} from '../../adapters/shards.js'
import {TOOL} from '../../version.js'
import {prepareObjects} from '../shared/objects.js'
import {type OffsetsOptions, type OffsetsRecord, type OffsetsSummary, offsetsRecord, summariseOffsets} from './offsets-object.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {claimRunDir} from '../shared/out-dir.js'
import {
  type ImageFilter,
  type WorkItem,
  WHOLE_RUN,
  type WorkerShare,
  orphansOfShare,
  resolveImagePath,
  selectImages,
  takeShare,
  workerRunName,
} from '../shared/select-images.js'
import {type UnitResult, readShardRecords, runSharded, writeManifest} from '../shared/sharded-run.js'

export interface OffsetsRunInput {
  annotations: string
  /** image root; when given, every image file must exist with the annotated size */
  images?: string
  out: string
  /** output folder of `getok curate` to join by annotation id */
  curated?: string
  filter: ImageFilter
  options: OffsetsOptions
  shardSize: number
  strict: boolean
  overwrite: boolean
  /** this worker's share of the images (--shard-index/--shard-count); the whole run by default */
  share?: WorkerShare
  progress?: Progress
}

export interface OffsetsRunResult {
  out: string
  manifest: string
  images: number
  /** of those, images an earlier run in the same folder had finished (not redone) */
  resumed: number
  seconds: number
  summary: OffsetsSummary
}

/** A curate record as far as the join needs it. */
interface CuratedEntry {
  imageId: number
  points: Cell[]
}

export async function runOffsets(input: OffsetsRunInput): Promise<OffsetsRunResult> {
  const started = Date.now()
  if (input.images !== undefined && !isDirectory(input.images)) throw new GetokError('image folder not found', {file: input.images})
  const data = await readCoco(input.annotations)
  const share = input.share ?? WHOLE_RUN
  const orphans = orphansOfShare(data, share, input.strict)
  const items = takeShare(selectImages(data, input.filter), share)
  const curated = input.curated === undefined ? null : await readCurated(input.curated, input.options.grid)
  const config = {...offsetsConfig(input, items.length), ...(share.count > 1 ? {shard_index: share.index, shard_count: share.count} : {})}
  await claimRunDir(input.out, 'offsets', config, input.overwrite)

  const {shards: stats, resumed} = await runSharded(
    items.map((it) => ({...it, id: it.image.id})),
    {outDir: input.out, name: workerRunName('offsets', share), shardSize: input.shardSize},
    (item) => offsetsForImage(input, data, curated, item),
    input.progress ?? silentProgress,
  )

  const records = await readShardRecords<OffsetsRecord>(input.out, stats)
  const skips = [
    ...orphans.map((o): Skip => ({image_id: o.ann.imageId, ann_id: o.ann.id, reason: o.reason})),
    ...stats.flatMap((s) => s.skips),
  ]
  const reasons: Record<string, number> = {}
  for (const s of skips) reasons[reasonKey(s.reason)] = (reasons[reasonKey(s.reason)] ?? 0) + 1
  const summary = summariseOffsets(records, reasons, skips.length, input.options.tokenStyle)
  const manifest = await writeManifest(input.out, {
    tool: TOOL,
    command: 'offsets',
    created: new Date().toISOString(),
    config,
    shards: stats.map((s) => ({file: s.shard, records: s.records, units: s.units, bytes: s.bytes, sha256: s.sha256})),
    skips,
    summary,
  })
  return {out: input.out, manifest, images: items.length, resumed, seconds: (Date.now() - started) / 1000, summary}
}

function offsetsConfig(input: OffsetsRunInput, images: number): Record<string, unknown> {
  const o = input.options
  return {
    command: 'offsets',
    annotations_images: images,
    grid: o.grid,
    k: o.k,
    quotas: o.quotas,
    hard_band: o.hardBand,
    seed: o.seed,
    flip_v: o.flipV,
    ties: o.ties,
    token_style: o.tokenStyle,
    include_crowd: o.includeCrowd,
    shard_size: input.shardSize,
    images_checked: input.images !== undefined,
    curated: input.curated ?? null,
  }
}

async function offsetsForImage(
  input: OffsetsRunInput,
  data: CocoDataset,
  curated: Map<number, CuratedEntry> | null,
  {image, anns}: WorkItem,
): Promise<UnitResult<OffsetsRecord>> {
  const {objects, skips} = prepareObjects(image, anns, input.options.includeCrowd)
  const bad = skips.find((s) => !s.reason.startsWith('crowd annotation'))
  if (input.strict && bad)
    throw new GetokError(bad.reason, {file: input.annotations, record: `annotation ${bad.ann_id} (image ${image.id})`})
  const problem = input.images === undefined ? null : await imageProblem(input.images, image, input.annotations)
  if (problem) {
    if (input.strict) throw problem
    // an image-level problem (missing file, wrong size) skips each of its objects, with the reason
    return {records: [], skips: [...skips, ...objects.map((o): Skip => ({image_id: image.id, ann_id: o.ann.id, reason: problem.message}))]}
  }
  const records = objects.map((o) => {
    const record = offsetsRecord(image, o, data.categories, input.options)
    return curated ? joinCurated(record, curated, input.options.tokenStyle) : record
  })
  return {records, skips}
}

/** Why the image file cannot stand for this COCO image (missing, undecodable header, other size), or null. */
async function imageProblem(root: string, image: CocoImage, annotations: string): Promise<GetokError | null> {
  try {
    const loaded = await loadImage(resolveImagePath(root, image, annotations))
    if (loaded.width === image.width && loaded.height === image.height) return null
    return new GetokError(
      'image size disagrees with the annotation file (masks would not line up)',
      {file: loaded.file, record: `image ${image.id}`, field: 'width/height'},
      `${image.width}x${image.height}`,
      `${loaded.width}x${loaded.height}`,
    )
  } catch (error) {
    if (error instanceof GetokError) return error
    throw error
  }
}

function joinCurated(record: OffsetsRecord, curated: Map<number, CuratedEntry>, style: TokenStyle): OffsetsRecord {
  const entry = curated.get(record.ann_id)
  const found = entry !== undefined && entry.imageId === record.image_id
  return {
    ...record,
    curated_points: found ? entry.points : null,
    curated_seg: found ? cellsToSegTokens(entry.points, record.grid, style) : null,
  }
}

const CURATE_SHARD = /^curate-\d{5}-of-\d{5}\.jsonl$/

/** Grid points of every finished curate record under dir, by annotation id. A record at another grid size is refused. */
export async function readCurated(dir: string, n: number): Promise<Map<number, CuratedEntry>> {
  if (!isDirectory(dir)) throw new GetokError('curated folder not found', {file: dir})
  const files = (await readdir(dir)).filter((f) => CURATE_SHARD.test(f)).sort()
  if (files.length === 0)
    throw new GetokError('no finished curate shards in the curated folder', {file: dir}, 'curate-00000-of-0000N.jsonl files')
  const out = new Map<number, CuratedEntry>()
  for (const f of files) {
    const file = path.join(dir, f)
    const records = await readJsonl<Record<string, unknown>>(file).catch((error: Error) => {
      throw new GetokError(error.message, {file})
    })
    records.forEach((r, line) => {
      const place = {file, record: `line ${line + 1}`}
      if (!Number.isInteger(r.ann_id) || !Number.isInteger(r.image_id) || !Array.isArray(r.points)) {
        throw new GetokError('not a curate record', place, 'ann_id, image_id and points')
      }
      if (r.grid !== n)
        throw new GetokError('curated records were made at another grid size', {...place, field: 'grid'}, String(n), String(r.grid))
      if (!out.has(r.ann_id as number)) out.set(r.ann_id as number, {imageId: r.image_id as number, points: r.points as Cell[]})
    })
  }
  return out
}

function isDirectory(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory()
}
