/**
 * `getok curate` end to end, on the per-image run skeleton (shared/image-run.ts): SAM loaded once
 * the images are known, each image curated into the shards, the summary from the records.
 */
import {GetokError} from '../../core/errors.js'
import {type CurateSummary, curateSummaryFields, summarise} from '../../core/stats.js'
import type {SamEngine} from '../../sam/engine.js'
import type {ModelFiles} from '../../sam/model-files.js'
import {type ImageRunInput, type ImageRunResult, type ImageUnit, runImageCommand} from '../shared/image-run.js'
import {resolveImagePath} from '../shared/select-images.js'
import {readShardRecords} from '../shared/sharded-run.js'
import {type CurateOptions, type CurateRecord, curateImage} from './curate-image.js'

export interface CurateRunInput extends Omit<ImageRunInput, 'includeCrowd' | 'images'> {
  images: string
  options: CurateOptions
  /** loaded once the images are known (its identity is part of the configuration) */
  engine: () => Promise<SamEngine>
  modelFiles: ModelFiles
}

export interface CurateRunResult extends ImageRunResult<CurateSummary> {
  decoderCalls: number
  encoderCalls: number
}

export async function runCurate(input: CurateRunInput): Promise<CurateRunResult> {
  let engine: SamEngine | undefined
  let categories: ReadonlyMap<number, string> = new Map()
  let decoderCalls = 0
  const result = await runImageCommand<CurateRecord, CurateSummary>(
    {...input, includeCrowd: input.options.includeCrowd},
    {
      name: 'curate',
      async configure(data, wholeRunImages) {
        categories = data.categories
        engine = await input.engine()
        return {
          command: 'curate',
          annotations_images: wholeRunImages,
          ...input.options,
          shard_size: input.shardSize,
          include_crowd: input.options.includeCrowd,
          model: engine.identity,
        }
      },
      async processImage(unit) {
        const curated = await curateUnit(input, engine!, categories, unit)
        decoderCalls += curated.decoderCalls
        return curated
      },
      async summarise(out, shards, skips) {
        return summarise(await readShardRecords(out, shards, curateSummaryFields), skips)
      },
      model: () => ({...engine!.identity, ...input.modelFiles}),
    },
  )
  return {...result, decoderCalls, encoderCalls: engine?.encoderCalls ?? 0}
}

/** One image's records; with --strict an object no grid point reaches stops the run. */
async function curateUnit(input: CurateRunInput, engine: SamEngine, categories: ReadonlyMap<number, string>, {image, objects}: ImageUnit) {
  const path = resolveImagePath(input.images, image, input.annotations)
  const result = await curateImage(engine, image, path, objects, categories, input.options, engine.identity)
  if (input.strict && result.skips.length > 0) {
    throw new GetokError(result.skips[0].reason, {
      file: input.annotations,
      record: `annotation ${result.skips[0].ann_id} (image ${image.id})`,
    })
  }
  return result
}
