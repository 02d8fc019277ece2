/**
 * `getok offsets` end to end, on the per-image run skeleton (shared/image-run.ts): offset records
 * object by object, with region and offset-token counts in the manifest. No SAM, no image
 * decoding and no native runtime: with --images each image file's header is read to check that
 * it exists and has the annotated size; without it nothing is read. With `workers` > 1 the
 * images go to that many worker processes (workers/pool.ts); the shards are the same bytes.
 */
import * as path from 'node:path'
import {GetokError} from '../../core/errors.js'
import type {CocoImage} from '../../core/coco/records.js'
import {readImageSize} from '../../adapters/image-header.js'
import {type ImageRunInput, type ImageRunResult, type ImageUnit, runImageCommand} from '../shared/image-run.js'
import {resolveImagePath} from '../shared/select-images.js'
import {readShardRecords} from '../shared/sharded-run.js'
import {WorkerPool, jobModule, remoteUnits} from '../workers/pool.js'
import {type CuratedEntry, curatedSha256, joinCurated, readCurated} from './curated-join.js'
import {type OffsetsOptions, type OffsetsRecord, type OffsetsSummary, offsetsRecord, summariseOffsets} from './offsets-object.js'
import {type Warn, Warnings, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface OffsetsRunInput extends Omit<ImageRunInput, 'includeCrowd'> {
  /** image root; when given, every image file must exist with the annotated size */
  images?: string
  /** output folder of `getok curate` to join by annotation id */
  curated?: string
  options: OffsetsOptions
  /** worker processes (default 1: this process); each reads the --curated records itself */
  workers?: number
  /** a --curated shard not the bytes its manifest lists: said as found, kept in the result and manifest */
  warn?: Warn
}

/** What each worker process is sent: the run's settings and the categories (it reads no annotations file). */
export interface OffsetsWorkerInit extends Pick<OffsetsRunInput, 'images' | 'annotations' | 'curated' | 'options'> {
  categories: ReadonlyMap<number, string>
}

export type OffsetsRunResult = ImageRunResult<OffsetsSummary>

export async function runOffsets(input: OffsetsRunInput): Promise<OffsetsRunResult> {
  // --overwrite would remove the curate shards it joins (out-files.ts); without it the folder's run.json refuses anyway
  if (input.curated !== undefined && path.resolve(input.curated) === path.resolve(input.out))
    throw new GetokError('the same folder as --curated, whose records offsets reads; choose another --out', {flag: 'out', file: input.out})
  await refuseFoldersBeingWritten([{path: input.curated, flag: 'curated'}])
  const warnings = new Warnings(input.warn)
  let curated: Map<number, CuratedEntry> | null = null
  let categories: ReadonlyMap<number, string> = new Map()
  let pool: WorkerPool<OffsetsRecord> | undefined
  const workers = input.workers ?? 1
  return runImageCommand<OffsetsRecord, OffsetsSummary>(
    {...input, includeCrowd: input.options.includeCrowd},
    {
      name: 'offsets',
      warnings,
      async configure(data, wholeRunImages) {
        categories = data.categories
        if (Math.min(workers, wholeRunImages) > 1) {
          const {images, annotations, options} = input
          const init: OffsetsWorkerInit = {images, annotations, curated: input.curated, options, categories}
          const unit = {annotations, strict: input.strict, includeCrowd: options.includeCrowd}
          pool = await WorkerPool.start('offsets', Math.min(workers, wholeRunImages), {module: jobModule('offsets-job'), init}, unit)
        } else curated = input.curated === undefined ? null : await readCurated(input.curated, input.options.grid)
        const curatedHash = input.curated === undefined ? undefined : await curatedSha256(input.curated, warnings.add)
        return offsetsConfig(input, wholeRunImages, curatedHash)
      },
      async processImage(unit) {
        return {records: await offsetsForImage(input, categories, curated, unit), skips: []}
      },
      remote: () => (pool ? remoteUnits(pool) : undefined),
      async summarise(out, shards, skips) {
        return summariseOffsets(await readShardRecords<OffsetsRecord>(out, shards), skips, input.options.tokenStyle)
      },
    },
  )
}

/**
 * run.json and manifest config; `annotations_images` counts the whole run's images, in every worker alike.
 * `curated` is the folder as given, for information; `curated_sha256` (with --curated) is what it holds,
 * the one a resume and merge compare (shared/run-settings.ts), so workers may read it from other paths.
 */
function offsetsConfig(input: OffsetsRunInput, wholeRunImages: number, curatedHash?: string): Record<string, unknown> {
  const o = input.options
  return {
    command: 'offsets',
    annotations_images: wholeRunImages,
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
    ...(curatedHash === undefined ? {} : {curated_sha256: curatedHash}),
  }
}

export async function offsetsForImage(
  input: Pick<OffsetsRunInput, 'images' | 'annotations' | 'options'>,
  categories: ReadonlyMap<number, string>,
  curated: Map<number, CuratedEntry> | null,
  {image, objects}: ImageUnit,
): Promise<OffsetsRecord[]> {
  if (input.images !== undefined) await checkImageFile(input.images, image, input.annotations)
  return objects.map((o) => {
    const record = offsetsRecord(image, o, categories, input.options)
    return curated ? joinCurated(record, curated, input.options.tokenStyle) : record
  })
}

/** The image file can stand for this COCO image: it exists and its header says the annotated size. */
async function checkImageFile(root: string, image: CocoImage, annotations: string): Promise<void> {
  const file = resolveImagePath(root, image, annotations)
  const size = await readImageSize(file)
  if (size.width === image.width && size.height === image.height) return
  throw new GetokError(
    'image size disagrees with the annotation file (masks would not line up)',
    {file, record: `image ${image.id}`, field: 'width/height'},
    `${image.width}x${image.height}`,
    `${size.width}x${size.height}`,
  )
}
