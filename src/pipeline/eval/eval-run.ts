/**
 * `getok eval` end to end: read the predictions, place each on its COCO object, decode and score
 * image by image (each image encoded once for all its samples) into resumable shards, then write
 *
 *   out/eval.jsonl      one line per scored sample, in the predictions file's order
 *   out/summary.json    the figures (core/eval/summary.ts) with what was not scored and why
 *   out/manifest.json   configuration, model, shards; eval-*.jsonl are the shards (resume)
 *
 * With `workers` > 1 the images are scored in that many worker processes (workers/pool.ts), each
 * with its own SAM; the shards are written in image order all the same, so they are the same bytes.
 */
import {existsSync, statSync} from 'node:fs'
import * as path from 'node:path'
import {type CocoDataset, type CocoImage, readCoco} from '../../adapters/coco.js'
import {type Skip, writeFileAtomic} from '../../adapters/shards.js'
import {GetokError} from '../../core/errors.js'
import type {EvalSample} from '../../core/eval/plan.js'
import type {PredictionFormat} from '../../core/eval/predictions.js'
import {type EvalLine, type EvalSummary, summariseEval} from '../../core/eval/summary.js'
import {formatEvalTable} from '../../core/eval/table.js'
import {countReasons, reasonKey} from '../../core/stats.js'
import type {ModelIdentity, SamEngine} from '../../sam/engine.js'
import {TOOL} from '../../version.js'
import {encodeImageFile} from '../shared/encode-image.js'
import {UNITS_FIELD, claimRunDir, unitsFingerprint, withOutFolder} from '../shared/out-dir.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {resolveImagePath} from '../shared/select-images.js'
import {type ShardedRun, type UnitResult, readShardRecords, runSharded, writeManifest} from '../shared/sharded-run.js'
import {threadsPerWorker, workersForRun} from '../workers/count.js'
import type {EvalJobInit} from '../workers/eval-job.js'
import {WorkerPool, jobModule} from '../workers/pool.js'
import type {WorkerSam} from '../workers/protocol.js'
import {type ImageAnnotations, evalLine, groundTruthCache} from './eval-lines.js'
import {type PredictionFile, readPredictions} from './read-predictions.js'
import {type ResolveContext, resolveRow} from './resolve.js'
import {type DecodeSettings, type SettingsInput, decodeSettings} from './settings.js'
import {scoreImageSamples} from './score-samples.js'
import {type Warn, Warnings, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface EvalRunInput {
  predictions: string
  format?: PredictionFormat
  /** the exported data file the predictions answer (LLaMA-Factory: required) */
  reference?: string
  annotations: string
  images: string
  out: string
  decode: Omit<SettingsInput, 'reference'>
  /** split of samples that name none (default: from the data file's name, else "unsplit") */
  split?: string
  shardSize: number
  batch: number
  strict: boolean
  overwrite: boolean
  engine: () => Promise<SamEngine>
  modelFiles: {encoder: string; decoder: string}
  /** count > 1: that many worker processes, each loading SAM with `sam` and its share of `sam.threads`;
   * byDefault: the count is --workers' default, which small runs lower (workers/count.ts) */
  workers?: {count: number; byDefault?: boolean; sam: WorkerSam}
  progress?: Progress
  /** a --curated shard edited since its manifest was written: said as found, kept in the result and manifest */
  warn?: Warn
}

export interface EvalRunSummary extends EvalSummary {
  /** prediction rows not scored: not of the form, or not placed on a COCO object */
  unresolved: {count: number; reasons: Record<string, number>; lines: {line: number; reason: string}[]}
  /** samples whose image could not be read (missing file, wrong size) */
  skipped: {count: number; reasons: Record<string, number>}
  decode: {grid: number; rule: string; policy: string; flip_v: boolean; source: DecodeSettings['source']}
  predictions: {file: string; format: PredictionFormat; rows: number}
}

export interface EvalRunResult {
  out: string
  images: number
  resumed: number
  seconds: number
  summary: EvalRunSummary
  table: string
  /** absent where nothing */
  warnings?: string[]
}

export interface Unit {
  id: number
  image: CocoImage
  samples: {line: number; sample: EvalSample}[]
}

const MAX_LISTED = 100

export async function runEval(input: EvalRunInput): Promise<EvalRunResult> {
  const started = Date.now()
  if (!existsSync(input.images) || !statSync(input.images).isDirectory())
    throw new GetokError('image folder not found', {file: input.images})
  await refuseFoldersBeingWritten([
    {path: input.decode.curated, flag: 'curated'},
    {path: input.reference && path.dirname(input.reference), flag: 'reference'},
  ])
  // held from before the predictions are read and SAM loaded: a second run into --out stops at once
  return withOutFolder(input.out, 'eval', () => evalHeld(input, started))
}

async function evalHeld(input: EvalRunInput, started: number): Promise<EvalRunResult> {
  const data = await readCoco(input.annotations)
  const warnings = new Warnings(input.warn)
  const decode = await decodeSettings({...input.decode, reference: input.reference}, warnings.add)
  const predictions = await readPredictions(input.predictions, input.format, input.reference, warnings.add)
  const defaultSplit = input.split ?? predictions.fileSplit ?? 'unsplit'
  const {units, unresolved} = placeSamples(data, predictions, {
    data,
    n: decode.settings.n,
    curated: decode.curated,
    defaultSplit,
    flipV: decode.settings.flipV,
  })
  if (units.length === 0) throw nothingPlaced(input.predictions, unresolved)
  const scoring = await startScoring(input, data, decode, units.length)
  const config = runConfig(input, data, predictions, decode, defaultSplit, scoring.identity)
  let run: ShardedRun
  try {
    const fingerprint = unitsFingerprint(units.map((u) => [u.id, u.samples.map((s) => s.line)]))
    await claimRunDir(input.out, 'eval', {...config, [UNITS_FIELD]: fingerprint}, input.overwrite)
    const options = {outDir: input.out, name: 'eval', shardSize: input.shardSize, inFlight: scoring.inFlight}
    run = await runSharded(units, options, scoring.score, input.progress ?? silentProgress)
  } finally {
    await scoring.close()
  }
  const {shards, resumed} = run

  const lines = (await readShardRecords<EvalLine>(input.out, shards)).sort((a, b) => a.line - b.line)
  await writeFileAtomic(path.join(input.out, 'eval.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''))
  const skips = shards.flatMap((s) => s.skips)
  const summary: EvalRunSummary = {
    ...summariseEval(lines),
    unresolved: {count: unresolved.length, reasons: countReasons(unresolved), lines: unresolved.slice(0, MAX_LISTED)},
    skipped: {count: skips.length, reasons: countReasons(skips)},
    decode: {
      grid: decode.settings.n,
      rule: decode.settings.rule,
      policy: decode.policy,
      flip_v: decode.settings.flipV,
      source: decode.source,
    },
    predictions: {file: input.predictions, format: predictions.format, rows: predictions.rows.length + predictions.bad.length},
  }
  await writeFileAtomic(path.join(input.out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
  await writeManifest(input.out, {
    tool: TOOL,
    command: 'eval',
    created: new Date().toISOString(),
    config,
    model: {...scoring.identity, ...input.modelFiles},
    shards: shards.map((s) => ({file: s.shard, records: s.records, units: s.units, bytes: s.bytes, sha256: s.sha256})),
    skips,
    summary,
    ...warnings.field(),
  })
  const seconds = (Date.now() - started) / 1000
  return {out: input.out, images: units.length, resumed, seconds, summary, table: formatEvalTable(summary), ...warnings.field()}
}

/** Not one row could be scored: bad input, not a model that answered badly (that scores 0 and exits 0). */
function nothingPlaced(file: string, unresolved: readonly {line: number; reason: string}[]): GetokError {
  const counts = Object.entries(countReasons(unresolved)).sort((a, b) => b[1] - a[1])
  const [reason] = counts[0]
  const first = unresolved.find((u) => reasonKey(u.reason) === reason)!
  const more = counts.length > 1 ? `; ${counts.length - 1} other reason${counts.length > 2 ? 's' : ''}` : ''
  return new GetokError(
    `no prediction row could be placed on a COCO object: ${unresolved.length} of ${unresolved.length} rows, ` +
      `${counts[0][1]} of them: ${first.reason}${more}`,
    {file, record: `line ${first.line}`},
  )
}

/** Each row on its image (units in image-id order), or among the unresolved with its reason. */
function placeSamples(
  data: CocoDataset,
  predictions: PredictionFile,
  ctx: ResolveContext,
): {units: Unit[]; unresolved: {line: number; reason: string}[]} {
  const unresolved = [...predictions.bad]
  const units = new Map<number, Unit>()
  for (const row of predictions.rows) {
    const r = resolveRow(row, ctx)
    if ('unresolved' in r) {
      unresolved.push({line: row.line, reason: r.unresolved})
      continue
    }
    const image = data.images.get(r.sample.image_id)!
    const unit = units.get(image.id) ?? units.set(image.id, {id: image.id, image, samples: []}).get(image.id)!
    unit.samples.push({line: row.line, sample: r.sample})
  }
  return {units: [...units.values()].sort((a, b) => a.id - b.id), unresolved}
}

/** What a resumed run must share with the one that began the folder: inputs (by content), decoding, model. */
function runConfig(
  input: EvalRunInput,
  data: CocoDataset,
  p: PredictionFile,
  decode: DecodeSettings,
  defaultSplit: string,
  model: ModelIdentity,
) {
  return {
    command: 'eval',
    predictions: {file: path.resolve(input.predictions), sha256: p.sha256, format: p.format},
    reference: p.reference ? {file: path.resolve(p.reference.file), sha256: p.reference.sha256} : null,
    annotations: path.resolve(input.annotations),
    annotations_sha256: data.sha256,
    grid: decode.settings.n,
    decode: decode.settings.rule,
    policy: decode.policy,
    flip_v: decode.settings.flipV,
    default_split: defaultSplit,
    batch: input.batch,
    shard_size: input.shardSize,
    model,
  }
}

interface Scoring {
  identity: ModelIdentity
  inFlight: number
  score(unit: Unit): Promise<UnitResult<EvalLine>>
  close(): Promise<void>
}

/** SAM here, or (workers > 1, no more than images) worker processes with SAM each; this process then loads no model. */
async function startScoring(input: EvalRunInput, data: CocoDataset, decode: DecodeSettings, images: number): Promise<Scoring> {
  const count = workersForRun(input.workers, images)
  const {settings, policy} = decode
  if (count > 1) {
    const {images: root, annotations, strict, batch} = input
    const sam = {...input.workers!.sam, threads: threadsPerWorker(input.workers!.sam.threads, count)}
    const init: EvalJobInit = {images: root, annotations, strict, batch, settings, policy, sam}
    const job = {module: jobModule('eval-job'), init}
    const pool = await WorkerPool.start<EvalLine>('eval', count, job, {annotations, strict, includeCrowd: true})
    return {
      identity: pool.info as ModelIdentity,
      inFlight: pool.size,
      score: (unit) => pool.process(unit.image, data.annotationsByImage.get(unit.id) ?? [], unit.samples),
      close: () => pool.close(),
    }
  }
  const engine = await input.engine()
  const scorer = {engine, settings, policy, batch: input.batch}
  return {identity: engine.identity, inFlight: 1, score: (unit) => evalImage(input, data, scorer, unit), close: async () => {}}
}

/** One image: its samples' ground truth, one encoding (only if an answer needs decoding), every sample scored. */
export async function evalImage(
  input: Pick<EvalRunInput, 'images' | 'annotations' | 'strict'>,
  data: ImageAnnotations,
  scorer: Parameters<typeof scoreImageSamples>[0],
  unit: Unit,
): Promise<{records: EvalLine[]; skips: Skip[]}> {
  const gt = groundTruthCache(data, unit.image)
  try {
    const file = resolveImagePath(input.images, unit.image, input.annotations)
    const items = unit.samples.map(({sample}) => ({sample, gt: gt(sample.ann_ids)}))
    const scored = await scoreImageSamples(scorer, unit.image, () => encodeImageFile(scorer.engine, unit.image, file), items)
    return {
      records: scored.map((s, k) => evalLine(unit.samples[k].line, unit.image, scorer.settings.n, unit.samples[k].sample, s)),
      skips: [],
    }
  } catch (error) {
    if (input.strict || !(error instanceof GetokError)) throw error
    const reason = error.message
    return {records: [], skips: unit.samples.map(({sample}) => ({image_id: unit.id, ann_id: sample.ann_ids[0], reason}))}
  }
}
