/**
 * The skeleton every per-image command runs on (curate, offsets): hold the output folder (its lock:
 * out-dir.ts withOutFolder), read the annotations, choose this worker's images, claim the folder for
 * the configuration, process image by image into resumable shards, then write the manifest from the
 * shard files.
 *
 * What a command adds: its configuration (made once the images are known, so it can carry the
 * whole run's image count and, for curate, the model it loaded), what it does with one image's
 * objects, and its summary. Object problems become skips with their reason (or stop the run with
 * `strict`); an image-level problem (missing file, wrong size) skips each of the image's objects.
 * A command may have its images processed in worker processes instead (`remote`); the shards are
 * written in image order either way, so they are the same bytes.
 */
import {existsSync, statSync} from 'node:fs'
import {GetokError} from '../../core/errors.js'
import {type CocoDataset, readCoco} from '../../adapters/coco.js'
import type {ShardStats, Skip} from '../../adapters/shards.js'
import {TOOL} from '../../version.js'
import {CROWD_SKIP, type PreparedObject, prepareObjects} from './objects.js'
import {UNITS_FIELD, claimRunDir, unitsFingerprint, withOutFolder} from './out-dir.js'
import {type Progress, silentProgress} from './progress.js'
import {
  type ImageFilter,
  type WorkItem,
  WHOLE_RUN,
  type WorkerShare,
  orphansOfShare,
  selectImages,
  takeShare,
  workerRunName,
} from './select-images.js'
import {type Manifest, type ShardedRun, type UnitResult, runSharded, writeManifest} from './sharded-run.js'
import type {Warnings} from './input-folders.js'

export interface ImageRunInput {
  annotations: string
  /** image root: required by curate, only checked by offsets */
  images?: string
  out: string
  filter: ImageFilter
  shardSize: number
  includeCrowd: boolean
  strict: boolean
  overwrite: boolean
  /** this worker's part of the images (--shard-index/--shard-count); the whole run when absent */
  share?: WorkerShare
  progress?: Progress
}

/** One image's objects, ready for a command. */
export interface ImageUnit extends WorkItem {
  objects: PreparedObject[]
}

export interface ImageCommand<R, S> {
  name: 'curate' | 'offsets'
  /** the run's configuration (run.json, manifest config); `wholeRunImages` counts every worker's images */
  configure(data: CocoDataset, wholeRunImages: number): Promise<Record<string, unknown>>
  /** one image's records and its own skips; a GetokError is an image-level problem */
  processImage(unit: ImageUnit): Promise<UnitResult<R>>
  /** images processed elsewhere (worker processes running processUnit) instead of here; asked once configure is done */
  remote?(): RemoteUnits<R> | undefined
  /** images processed here at once (default 1): several let SAM gather their prompts (sam/cross-image-batcher.ts) */
  inFlight?(): number
  /** the summary, from the finished shards and every skip of the run */
  summarise(outDir: string, shards: readonly ShardStats[], skips: readonly Skip[]): Promise<S>
  /** manifest.model, for commands that ran a model */
  model?(): Manifest['model']
  /** what the run went on despite (an input shard edited since its manifest: input-folders.ts): in the manifest and result */
  warnings?: Warnings
}

/** Where a run's images go when not processed in this process; written in order all the same (runSharded). */
export interface RemoteUnits<R> {
  /** images in progress at once */
  inFlight: number
  process(item: WorkItem): Promise<UnitResult<R>>
  /** called once the shards are written, or the run failed */
  close(): Promise<void>
}

export interface ImageRunResult<S> {
  out: string
  manifest: string
  images: number
  /** of those, images an earlier run in the same folder had finished (not redone) */
  resumed: number
  seconds: number
  summary: S
  /** absent where nothing */
  warnings?: string[]
}

export async function runImageCommand<R extends object, S>(input: ImageRunInput, command: ImageCommand<R, S>): Promise<ImageRunResult<S>> {
  const started = Date.now()
  if (input.images !== undefined && !isDirectory(input.images)) throw new GetokError('image folder not found', {file: input.images})
  // held from before the annotations are read and SAM loaded: a second run into --out stops at once
  const result = await withOutFolder(input.out, command.name, () => runHeld(input, command))
  return {...result, seconds: (Date.now() - started) / 1000}
}

async function runHeld<R extends object, S>(
  input: ImageRunInput,
  command: ImageCommand<R, S>,
): Promise<Omit<ImageRunResult<S>, 'seconds'>> {
  const data = await readCoco(input.annotations)
  const share = input.share ?? WHOLE_RUN
  const orphans = orphansOfShare(data, share, input.strict)
  const all = selectImages(data, input.filter)
  const items = takeShare(all, share)
  const config = {...(await command.configure(data, all.length)), annotations_sha256: data.sha256, ...shareFields(share)}
  const remote = command.remote?.()
  let run: ShardedRun
  try {
    const units = unitsFingerprint(items.map(({image, anns}) => [image.id, anns.map((a) => a.id)]))
    await claimRunDir(input.out, command.name, {...config, [UNITS_FIELD]: units}, input.overwrite)
    run = await runSharded(
      items.map((it) => ({...it, id: it.image.id})),
      {
        outDir: input.out,
        name: workerRunName(command.name, share),
        shardSize: input.shardSize,
        inFlight: remote?.inFlight ?? command.inFlight?.(),
      },
      (item) => (remote ? remote.process(item) : processUnit(input, command, item)),
      input.progress ?? silentProgress,
    )
  } finally {
    await remote?.close()
  }
  const {shards, resumed} = run

  const skips = [
    ...orphans.map((o): Skip => ({image_id: o.ann.imageId, ann_id: o.ann.id, reason: o.reason})),
    ...shards.flatMap((s) => s.skips),
  ]
  const summary = await command.summarise(input.out, shards, skips)
  const model = command.model?.()
  const manifest = await writeManifest(input.out, {
    tool: TOOL,
    command: command.name,
    created: new Date().toISOString(),
    config,
    ...(model ? {model} : {}),
    shards: shards.map((s) => ({file: s.shard, records: s.records, units: s.units, bytes: s.bytes, sha256: s.sha256})),
    skips,
    summary,
    ...command.warnings?.field(),
  })
  return {out: input.out, manifest, images: items.length, resumed, summary, ...command.warnings?.field()}
}

/**
 * Prepare the image's objects, hand them to the command, and turn an image-level problem into skips.
 * Worker processes run this too (workers/worker.ts), so an image gives the same result wherever it runs.
 */
export async function processUnit<R>(
  input: Pick<ImageRunInput, 'annotations' | 'strict' | 'includeCrowd'>,
  command: Pick<ImageCommand<R, unknown>, 'processImage'>,
  {image, anns}: WorkItem,
): Promise<UnitResult<R>> {
  const {objects, skips} = prepareObjects(image, anns, input.includeCrowd)
  const bad = skips.find((s) => s.reason !== CROWD_SKIP)
  if (input.strict && bad)
    throw new GetokError(bad.reason, {file: input.annotations, record: `annotation ${bad.ann_id} (image ${image.id})`})
  try {
    const result = await command.processImage({image, anns, objects})
    return {records: result.records, skips: [...skips, ...result.skips]}
  } catch (error) {
    if (input.strict || !(error instanceof GetokError)) throw error
    const reason = error.message
    return {records: [], skips: [...skips, ...objects.map((o): Skip => ({image_id: image.id, ann_id: o.ann.id, reason}))]}
  }
}

function shareFields(share: WorkerShare): Record<string, number> {
  return share.count > 1 ? {shard_index: share.index, shard_count: share.count} : {}
}

function isDirectory(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory()
}
