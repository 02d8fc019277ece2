/**
 * `getok export` end to end: read a curate folder (and an offsets folder for
 * refinement), referring expressions and templates; build conversations;
 * write one data file per split in the trainer's shape, the vocabulary the
 * trainer must add, and manifest.json with counts per task and split. Every
 * record is checked against the vocabulary before anything is written.
 *
 *   out/swift-train.jsonl, swift-val.jsonl …   (llava-*.json: JSON arrays)
 *   out/vocab.txt                              one token per line (ms-swift --new_special_tokens)
 *   out/vocab.yaml, out/dataset_info.json      LLaMA-Factory only
 *   out/manifest.json                          written last
 */
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {type ExpressionSource, readExpressionFile} from '../../adapters/refs.js'
import {writeFileAtomic} from '../../adapters/shards.js'
import {readUtf8File} from '../../adapters/text-file.js'
import type {CuratedObject, ExpressionStats, RefineForm, TaskName} from '../../core/export/conversations.js'
import {conversationSource} from '../../core/export/conversation-source.js'
import {GetokError} from '../../core/errors.js'
import {DEFAULT_TEMPLATES, type Templates, parseTemplates} from '../../core/export/templates.js'
import {type ExportFormat, llamaFactoryDatasetInfo} from '../../core/export/trainer-formats.js'
import {type VocabOptions, vocabToList, vocabToLlamaFactoryYaml, vocabularyEntries} from '../../core/grid/vocab.js'
import {TOOL} from '../../version.js'
import {claimFreshDir, withOutFolder} from '../shared/out-dir.js'
import {type GetokFolder, readCurateFolder, readOffsetsFolder} from './export-inputs.js'
import {exportConfig, summarise} from './export-summary.js'
import {flipBoxOffsets} from '../../core/export/box-rule.js'
import {type FollowUpInput, predictConfig, readFollowUpAnswers} from './predict-data.js'
import {type Manifest, writeManifest} from '../shared/sharded-run.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {checkConversations, writeDataFiles} from './data-files.js'
import {type Warn, Warnings, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface ExportRunInput {
  curated: string
  offsets?: string
  format: ExportFormat
  out: string
  /** a refs(*.p) pickle, or JSONL of {ann_id, expression} */
  expressions?: {file: string; source: ExpressionSource}
  tasks: TaskName[]
  templates?: string
  /** prefix for image paths in records; paths stay relative to curate's --images without it */
  imageRoot?: string
  /** auto: two turns for ms-swift (the first answer marked "loss": false), one turn elsewhere */
  refineForm: RefineForm | 'auto'
  minIou: number
  defaultSplit: string
  /** add the 8 structure tags to the vocabulary */
  tags: boolean
  /** data for a trainer's predict run: each conversation ends at the model's first answer, records carry ids (core/export/predict.ts) */
  predict?: boolean
  /** the second predict run's data: the continuing conversations with the model's answers of the first */
  followup?: FollowUpInput
  /** shards read, conversations built and checked, then records written (a terminal's count, rate and ETA) */
  progress?: Progress
  /** an input shard edited since its manifest was written: said as found, and kept in the result and manifest */
  warn?: Warn
}

export interface ExportFile {
  file: string
  split: string
  records: number
  bytes: number
  sha256: string
}

export interface ExportSummary {
  records: number
  /** task → split → records */
  counts: Record<string, Record<string, number>>
  expressions: ExpressionStats & {file: string | null; note: string}
  skipped: number
  skip_reasons: Record<string, number>
  vocabulary: {file: string; count: number; tags: boolean; grid: number; token_style: string}
  trainer: {format: ExportFormat; image_root: string | null; hints: string[]}
}

export interface ExportRunResult {
  out: string
  manifest: string
  files: ExportFile[]
  summary: ExportSummary
  /** what the run went on despite (input-folders.ts); absent where nothing */
  warnings?: string[]
}

export async function runExport(input: ExportRunInput): Promise<ExportRunResult> {
  const inputs = [
    {path: input.curated, flag: 'curated'},
    {path: input.offsets, flag: 'offsets'},
    {path: input.followup?.reference && path.dirname(input.followup.reference), flag: 'reference'},
  ]
  await refuseFoldersBeingWritten(inputs)
  // held from before the inputs are read: a second run into --out stops at once, touching nothing
  return withOutFolder(input.out, 'export', () => exportHeld(input))
}

async function exportHeld(input: ExportRunInput): Promise<ExportRunResult> {
  const progress = input.progress ?? silentProgress
  const warnings = new Warnings(input.warn)
  const curated = await readCurateFolder(input.curated, {progress, warn: warnings.add})
  const offsets = input.offsets === undefined ? null : await readOffsetsFolder(input.offsets, {progress, warn: warnings.add})
  checkInputs(input, curated, offsets)
  const expressions = input.expressions === undefined ? null : await readExpressionFile(input.expressions.file, input.expressions.source)
  const templates = input.templates === undefined ? DEFAULT_TEMPLATES : await readTemplates(input.templates)
  const refineForm = input.refineForm === 'auto' ? (input.format === 'swift' ? 'two-turn' : 'one-turn') : input.refineForm

  // built again at each pass, never held: see conversation-source.ts
  const source = conversationSource(boxOffsetsSigned(curated, offsets), offsets?.records ?? null, {
    tasks: input.tasks,
    grid: curated.grid,
    style: curated.style,
    templates,
    refineForm,
    minIou: input.minIou,
    defaultSplit: input.defaultSplit,
    uncertainImages: curated.imagesWithSkips,
    expressions: expressions && {source: expressions.source, entries: expressions.expressions},
  })
  const followUp = input.followup ? await readFollowUpAnswers(input.followup, warnings.add) : null
  const vocab: VocabOptions = {n: curated.grid, style: curated.style, tags: input.tags}
  const vocabulary = new Set(vocabularyEntries(vocab).map((e) => e.token))
  const checked = checkConversations(input, source, followUp, vocabulary, progress)

  await claimOutDir(input)
  const files = await writeDataFiles(input, source, followUp, checked, progress)
  await writeVocabularyFiles(input, vocab, files)
  const next = input.predict === true && checked.continues
  const summary = summarise(input, {...checked, expressions: source.expressions}, files, vocab, expressions?.file ?? null, next)
  const manifest = await writeManifest(input.out, {
    tool: TOOL,
    command: 'export',
    created: new Date().toISOString(),
    config: {...exportConfig(input, curated, refineForm), ...predictConfig(input, followUp)},
    shards: files.map((f) => ({file: f.file, records: f.records, units: f.records, bytes: f.bytes, sha256: f.sha256})),
    skips: checked.skips,
    summary,
    ...warnings.field(),
  })
  return {out: input.out, manifest, files, summary, ...warnings.field()}
}

/** Curated records with their box offsets in the offsets folder's dv sign (curate writes dv = +1 down; --flip-v is up). */
function boxOffsetsSigned(curated: GetokFolder<CuratedObject>, offsets: GetokFolder<unknown> | null): CuratedObject[] {
  if (offsets?.manifest.config?.flip_v !== true) return curated.records
  return curated.records.map((r) =>
    r.boxOffsets === undefined ? r : {...r, boxOffsets: flipBoxOffsets(r.boxOffsets, curated.grid, curated.style)},
  )
}

function checkInputs(input: ExportRunInput, curated: GetokFolder<unknown>, offsets: GetokFolder<unknown> | null): void {
  if (input.tasks.includes('refine') && !offsets)
    throw new GetokError('task "refine" needs --offsets (the output folder of getok offsets)', {field: 'tasks'})
  if (!offsets) return
  if (offsets.grid !== curated.grid) {
    throw new GetokError(
      'curated and offsets folders were made at different grid sizes',
      {file: path.join(offsets.dir, 'manifest.json'), field: 'config.grid'},
      `${curated.grid} (as ${curated.dir})`,
      String(offsets.grid),
    )
  }
  if (offsets.style !== curated.style) {
    throw new GetokError(
      'curated and offsets folders use different token styles',
      {file: path.join(offsets.dir, 'manifest.json'), field: 'config.token_style'},
      `${curated.style} (as ${curated.dir})`,
      offsets.style,
    )
  }
}

async function readTemplates(file: string): Promise<Templates> {
  let doc: unknown
  try {
    doc = JSON.parse(await readUtf8File(file))
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`templates file unreadable or not JSON (${(error as Error).message})`, {file})
  }
  try {
    return parseTemplates(doc)
  } catch (error) {
    throw new GetokError((error as Error).message, {file})
  }
}

/**
 * Never write over another command's output (e.g. --out pointing at the curated folder); files of
 * an earlier export into the same folder are removed, so no split file of another run is left
 * beside this one.
 */
async function claimOutDir(input: ExportRunInput): Promise<void> {
  const file = path.join(input.out, 'manifest.json')
  const previous = existsSync(file)
    ? await readFile(file, 'utf8').then(
        (t) => (JSON.parse(t) as Partial<Manifest>).shards ?? [],
        () => [],
      )
    : []
  // without a manifest nothing there is an earlier export's
  const own = new Set(
    existsSync(file) ? [...previous.map((s) => path.basename(String(s.file))), ...EXPORT_SIDE_FILES, 'manifest.json'] : [],
  )
  await claimFreshDir(input.out, {command: 'export', own: (f) => own.has(f)})
}

const EXPORT_SIDE_FILES = ['vocab.txt', 'vocab.yaml', 'dataset_info.json']
async function writeVocabularyFiles(input: ExportRunInput, vocab: VocabOptions, files: readonly ExportFile[]): Promise<void> {
  const entries = vocabularyEntries(vocab)
  await writeFileAtomic(path.join(input.out, 'vocab.txt'), vocabToList(entries))
  if (input.format !== 'llamafactory') return
  await writeFileAtomic(path.join(input.out, 'vocab.yaml'), vocabToLlamaFactoryYaml(entries, vocab))
  await writeFileAtomic(path.join(input.out, 'dataset_info.json'), JSON.stringify(llamaFactoryDatasetInfo('getok', files), null, 2) + '\n')
}
