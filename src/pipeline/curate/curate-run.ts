/**
 * `getok curate` end to end, on the per-image run skeleton (shared/image-run.ts): SAM loaded once
 * the images are known, each image curated into the shards, the summary from the records. With
 * `workers` > 1 the images go to that many worker processes (workers/pool.ts, at most one an image),
 * each with its own SAM; the shards are written in image order all the same, so they are the same bytes.
 */
import {GetokError} from '../../core/errors.js'
import {type CurateSummary, curateSummaryFields, summarise} from '../../core/stats.js'
import type {ModelIdentity, SamEngine} from '../../sam/engine.js'
import {CrossImageBatcher, withCrossImageBatching} from '../../sam/cross-image-batcher.js'
import type {ModelFiles} from '../../sam/model-files.js'
import {type ImageRunInput, type ImageRunResult, type ImageUnit, runImageCommand} from '../shared/image-run.js'
import {resolveImagePath} from '../shared/select-images.js'
import {readShardRecords} from '../shared/sharded-run.js'
import {snakeCaseKeys} from '../shared/run-settings.js'
import {threadsPerWorker, workersForRun} from '../workers/count.js'
import type {CurateJobInit} from '../workers/curate-job.js'
import {WorkerPool, jobModule, remoteUnits} from '../workers/pool.js'
import type {WorkerSam} from '../workers/protocol.js'
import {type CurateOptions, type CurateRecord, curateImage} from './curate-image.js'

export interface CurateRunInput extends Omit<ImageRunInput, 'includeCrowd' | 'images'> {
  images: string
  options: CurateOptions
  /** loaded once the images are known (its identity is part of the configuration); one process only */
  engine: () => Promise<SamEngine>
  modelFiles: ModelFiles
  /** count > 1: that many worker processes, each loading SAM with `sam` and its share of `sam.threads` (all cores
   * by default); byDefault: the count is --workers' default, which small runs lower (workers/count.ts) */
  workers?: {count: number; byDefault?: boolean; sam: WorkerSam}
  /** one process: keep CROSS_IMAGE_IN_FLIGHT images in flight and gather their prompts into shared decoder runs (same records) */
  crossImage?: boolean
}

export interface CurateRunResult extends ImageRunResult<CurateSummary> {
  decoderCalls: number
  /** decoder runs of this process's engine (absent with worker processes) */
  decoderRuns?: number
  encoderCalls: number
}

/** What curating one image needs besides SAM, sent to each worker process as it is. */
export interface CurateWorkerInit extends Pick<CurateRunInput, 'images' | 'annotations' | 'options' | 'strict'> {
  categories: ReadonlyMap<number, string>
}

/** images in flight with --cross-image: enough to fill a GPU run of 16 from `fast`'s few prompts a step */
export const CROSS_IMAGE_IN_FLIGHT = 4

export async function runCurate(input: CurateRunInput): Promise<CurateRunResult> {
  let engine: SamEngine | undefined
  /** what the images decode through: the engine, or the engine behind the cross-image batcher */
  let decoding: SamEngine | undefined
  let pool: WorkerPool<CurateRecord> | undefined
  let categories: ReadonlyMap<number, string> = new Map()
  let decoderCalls = 0
  const identity = () => engine?.identity ?? (pool!.info as ModelIdentity)
  const result = await runImageCommand<CurateRecord, CurateSummary>(
    {...input, includeCrowd: input.options.includeCrowd},
    {
      name: 'curate',
      async configure(data, wholeRunImages) {
        categories = data.categories
        // one: this process; otherwise the parent loads no model
        const count = workersForRun(input.workers, wholeRunImages)
        if (count > 1) pool = await startPool(input, input.workers!.sam, count, categories)
        else {
          engine = await input.engine()
          decoding = crossImageEngine(engine, input)
        }
        return curateConfig(input, wholeRunImages, identity())
      },
      async processImage(unit) {
        const curated = await curateUnit(input, decoding!, categories, unit)
        decoderCalls += curated.decoderCalls
        return curated
      },
      remote: () => (pool ? remoteUnits(pool) : undefined),
      inFlight: () => (engine && input.crossImage ? CROSS_IMAGE_IN_FLIGHT : 1),
      async summarise(out, shards, skips) {
        return summarise(await readShardRecords(out, shards, curateSummaryFields), skips)
      },
      model: () => ({...identity(), ...input.modelFiles}),
    },
  )
  // images in flight overlap in the engine's counters, so their per-image differences do not add up; the engine's own total does
  const calls = input.crossImage && engine ? engine.decoderCalls : decoderCalls
  const counters = pool?.counters() ?? {decoderCalls: calls, encoderCalls: engine?.encoderCalls ?? 0}
  const runs = engine ? {decoderRuns: engine.decoderRuns} : {}
  return {...result, decoderCalls: counters.decoderCalls ?? 0, ...runs, encoderCalls: counters.encoderCalls ?? 0}
}

/** The engine curate decodes through: with crossImage, the images in flight share decoder runs of max(--batch, 16). */
function crossImageEngine(engine: SamEngine, input: CurateRunInput): SamEngine {
  if (!input.crossImage) return engine
  return withCrossImageBatching(engine, new CrossImageBatcher(engine, {maxBatch: Math.max(input.options.batch, 16)}))
}

/** `count` worker processes, each loading SAM with its share of the threads. */
function startPool(input: CurateRunInput, sam: WorkerSam, count: number, categories: ReadonlyMap<number, string>) {
  const {images, annotations, options, strict} = input
  const init: CurateJobInit = {
    images,
    annotations,
    options,
    strict,
    categories,
    sam: {...sam, threads: threadsPerWorker(sam.threads, count)},
  }
  return WorkerPool.start<CurateRecord>(
    'curate',
    count,
    {module: jobModule('curate-job'), init},
    {
      annotations,
      strict,
      includeCrowd: options.includeCrowd,
    },
  )
}

/**
 * run.json and manifest config: what a resumed run must share with the one that began it (not the worker count).
 * Every option, spelt as the other configurations spell theirs (`max_tokens`, `include_crowd`, `token_style`).
 */
function curateConfig(input: CurateRunInput, wholeRunImages: number, model: ModelIdentity): Record<string, unknown> {
  return {
    command: 'curate',
    annotations_images: wholeRunImages,
    ...snakeCaseKeys(input.options),
    shard_size: input.shardSize,
    model,
  }
}

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
