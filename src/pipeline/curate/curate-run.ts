/**
 * `getok curate` end to end: read annotations, choose images, claim the output
 * folder, curate image by image into shards, write the manifest and summary.
 */
import {existsSync, statSync} from 'node:fs'
import {GetokError} from '../../core/errors.js'
import {type CurateSummary, summarise} from '../../core/stats.js'
import {readCoco} from '../../adapters/coco.js'
import type {SamEngine} from '../../sam/engine.js'
import type {Skip} from '../../adapters/shards.js'
import {TOOL} from '../../version.js'
import {type CurateOptions, type CurateRecord, curateImage} from './curate-image.js'
import {prepareObjects} from '../shared/objects.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {claimRunDir} from '../shared/out-dir.js'
import {
  type ImageFilter,
  WHOLE_RUN,
  type WorkerShare,
  orphansOfShare,
  resolveImagePath,
  selectImages,
  takeShare,
  workerRunName,
} from '../shared/select-images.js'
import {readShardRecords, runSharded, writeManifest} from '../shared/sharded-run.js'

export interface CurateRunInput {
  annotations: string
  images: string
  out: string
  filter: ImageFilter
  options: CurateOptions
  shardSize: number
  strict: boolean
  overwrite: boolean
  /** this worker's part of the images (--shard-index/--shard-count); the whole run when absent */
  share?: WorkerShare
  /** loaded lazily: a run whose work is all done never loads the model */
  engine: () => Promise<SamEngine>
  modelFiles: {encoder: string; decoder: string}
  progress?: Progress
}

export interface CurateRunResult {
  out: string
  manifest: string
  images: number
  /** of those, images an earlier run in the same folder had finished (not redone) */
  resumed: number
  decoderCalls: number
  encoderCalls: number
  seconds: number
  summary: CurateSummary
}

export async function runCurate(input: CurateRunInput): Promise<CurateRunResult> {
  const started = Date.now()
  if (!existsSync(input.images) || !statSync(input.images).isDirectory()) {
    throw new GetokError('image folder not found', {file: input.images})
  }
  const data = await readCoco(input.annotations)
  const share = input.share ?? WHOLE_RUN
  const orphans = orphansOfShare(data, share, input.strict)
  const all = selectImages(data, input.filter)
  const items = takeShare(all, share)
  const engine = await input.engine()
  const config = {
    command: 'curate',
    annotations_images: all.length,
    ...input.options,
    shard_size: input.shardSize,
    include_crowd: input.options.includeCrowd,
    model: engine.identity,
    ...(share.count > 1 ? {shard_index: share.index, shard_count: share.count} : {}),
  }
  await claimRunDir(input.out, 'curate', config, input.overwrite)

  let decoderCalls = 0
  const {shards: stats, resumed} = await runSharded(
    items.map((it) => ({...it, id: it.image.id})),
    {outDir: input.out, name: workerRunName('curate', share), shardSize: input.shardSize},
    async ({image, anns}) => {
      const {objects, skips} = prepareObjects(image, anns, input.options.includeCrowd)
      const bad = skips.find((s) => !s.reason.startsWith('crowd'))
      if (input.strict && bad) {
        throw new GetokError(bad.reason, {file: input.annotations, record: `annotation ${bad.ann_id} (image ${image.id})`})
      }
      try {
        const path = resolveImagePath(input.images, image, input.annotations)
        const result = await curateImage(engine, image, path, objects, data.categories, input.options, engine.identity)
        decoderCalls += result.decoderCalls
        if (input.strict && result.skips.length > 0) {
          throw new GetokError(result.skips[0].reason, {
            file: input.annotations,
            record: `annotation ${result.skips[0].ann_id} (image ${image.id})`,
          })
        }
        return {records: result.records, skips: [...skips, ...result.skips]}
      } catch (error) {
        if (input.strict || !(error instanceof GetokError)) throw error
        // an image-level problem (missing file, wrong size) skips each of its objects, with the reason
        const reason = error.message
        return {records: [], skips: [...skips, ...objects.map((o): Skip => ({image_id: image.id, ann_id: o.ann.id, reason}))]}
      }
    },
    input.progress ?? silentProgress,
  )

  const records = await readShardRecords(input.out, stats, (r: CurateRecord) => ({
    tokens: r.tokens,
    iou: r.iou,
    reached: r.reached,
    area: r.area,
  }))
  const skips = [
    ...orphans.map((o): Skip => ({image_id: o.ann.imageId, ann_id: o.ann.id, reason: o.reason})),
    ...stats.flatMap((s) => s.skips),
  ]
  const summary = summarise(records, skips)
  const manifest = await writeManifest(input.out, {
    tool: TOOL,
    command: 'curate',
    created: new Date().toISOString(),
    config,
    model: {...engine.identity, ...input.modelFiles},
    shards: stats.map((s) => ({file: s.shard, records: s.records, units: s.units, bytes: s.bytes, sha256: s.sha256})),
    skips,
    summary,
  })
  return {
    out: input.out,
    manifest,
    images: items.length,
    resumed,
    decoderCalls,
    encoderCalls: engine.encoderCalls,
    seconds: (Date.now() - started) / 1000,
    summary,
  }
}
