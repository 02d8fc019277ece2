/**
 * `getok curate` end to end, on the per-image run skeleton (shared/image-run.ts): SAM loaded once
 * the images are known, each image curated into the shards, the summary from the records. With
 * `workers` > 1 the images go to that many worker processes (workers/pool.ts), each with its own
 * SAM; the shards are written in image order all the same, so they are the same bytes.
 */
import {GetokError} from '../../core/errors.js'
import {type CurateSummary, curateSummaryFields, summarise} from '../../core/stats.js'
import type {ModelIdentity, SamEngine, SamOptions} from '../../sam/engine.js'
import type {ModelFiles} from '../../sam/model-files.js'
import {type ImageCommand, type ImageRunInput, type ImageRunResult, type ImageUnit, runImageCommand} from '../shared/image-run.js'
import {resolveImagePath} from '../shared/select-images.js'
import {readShardRecords} from '../shared/sharded-run.js'
import {threadsPerWorker} from '../workers/count.js'
import type {CurateJobInit} from '../workers/curate-job.js'
import {WorkerPool} from '../workers/pool.js'
import {type CurateOptions, type CurateRecord, curateImage} from './curate-image.js'

export interface CurateRunInput extends Omit<ImageRunInput, 'includeCrowd' | 'images'> {
  images: string
  options: CurateOptions
  /** loaded once the images are known (its identity is part of the configuration); one process only */
  engine: () => Promise<SamEngine>
  modelFiles: ModelFiles
  /** count > 1: that many worker processes, each loading SAM with `sam` and its share of `sam.threads` (all cores by default) */
  workers?: {count: number; sam: Pick<SamOptions, 'files' | 'device' | 'threads' | 'quantizeDecoder'>}
}

export interface CurateRunResult extends ImageRunResult<CurateSummary> {
  decoderCalls: number
  encoderCalls: number
}

/** What curating one image needs besides SAM, sent to each worker process as it is. */
export interface CurateWorkerInit extends Pick<CurateRunInput, 'images' | 'annotations' | 'options' | 'strict'> {
  categories: ReadonlyMap<number, string>
}

export async function runCurate(input: CurateRunInput): Promise<CurateRunResult> {
  if (input.workers && input.workers.count > 1) return runCurateInWorkers(input, input.workers)
  let engine: SamEngine | undefined
  let categories: ReadonlyMap<number, string> = new Map()
  let decoderCalls = 0
  const result = await runImageCommand<CurateRecord, CurateSummary>(
    {...input, includeCrowd: input.options.includeCrowd},
    {
      ...curateCommon(input, () => engine!.identity),
      async configure(data, wholeRunImages) {
        categories = data.categories
        engine = await input.engine()
        return curateConfig(input, wholeRunImages, engine.identity)
      },
      async processImage(unit) {
        const curated = await curateUnit(input, engine!, categories, unit)
        decoderCalls += curated.decoderCalls
        return curated
      },
    },
  )
  return {...result, decoderCalls, encoderCalls: engine?.encoderCalls ?? 0}
}

/** The same run with the images dealt to worker processes; the parent loads no model. */
async function runCurateInWorkers(input: CurateRunInput, workers: NonNullable<CurateRunInput['workers']>): Promise<CurateRunResult> {
  let pool: WorkerPool<CurateRecord> | undefined
  const identity = () => pool!.info as ModelIdentity
  const result = await runImageCommand<CurateRecord, CurateSummary>(
    {...input, includeCrowd: input.options.includeCrowd},
    {
      ...curateCommon(input, identity),
      async configure(data, wholeRunImages) {
        const {images, annotations, options, strict} = input
        const sam = {...workers.sam, threads: threadsPerWorker(workers.sam.threads, workers.count)}
        const init: CurateJobInit = {images, annotations, options, strict, categories: data.categories, sam}
        const job = {module: new URL(`../workers/curate-job.${moduleExtension()}`, import.meta.url).href, init}
        pool = await WorkerPool.start('curate', workers.count, job, {annotations, strict, includeCrowd: options.includeCrowd})
        return curateConfig(input, wholeRunImages, identity())
      },
      processImage: () => Promise.reject(new Error('curate: images go to the worker processes')),
      remote: () => ({inFlight: pool!.size, process: (item) => pool!.process(item.image, item.anns), close: () => pool!.close()}),
    },
  )
  const counters = pool?.counters() ?? {}
  return {...result, decoderCalls: counters.decoderCalls ?? 0, encoderCalls: counters.encoderCalls ?? 0}
}

function curateCommon(
  input: CurateRunInput,
  identity: () => ModelIdentity,
): Pick<ImageCommand<CurateRecord, CurateSummary>, 'name' | 'summarise' | 'model'> {
  return {
    name: 'curate',
    async summarise(out, shards, skips) {
      return summarise(await readShardRecords(out, shards, curateSummaryFields), skips)
    },
    model: () => ({...identity(), ...input.modelFiles}),
  }
}

/** run.json and manifest config: what a resumed run must share with the one that began it (not the worker count). */
function curateConfig(input: CurateRunInput, wholeRunImages: number, model: ModelIdentity): Record<string, unknown> {
  return {
    command: 'curate',
    annotations_images: wholeRunImages,
    ...input.options,
    shard_size: input.shardSize,
    include_crowd: input.options.includeCrowd,
    model,
  }
}

/** .ts when run from the sources (tests through tsx), .js when built. */
const moduleExtension = () => (import.meta.url.endsWith('.ts') ? 'ts' : 'js')

/** One image's records; with --strict an object no grid point reaches stops the run. */
export async function curateUnit(
  input: Pick<CurateRunInput, 'images' | 'annotations' | 'options' | 'strict'>,
  engine: SamEngine,
  categories: ReadonlyMap<number, string>,
  {image, objects}: ImageUnit,
) {
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
