/**
 * What `getok export` writes into manifest.json beside its files: the summary (counts per task and
 * split, skips by reason, the vocabulary, the trainer's hints) and the config, which names the
 * decode rule of the curated data so that `getok eval --reference` decodes answers by it.
 */
import type {ExportSkip, ExpressionStats, RefineForm} from '../../core/export/conversations.js'
import type {CheckedExport} from './data-files.js'
import {predictHints} from '../../core/export/predict.js'
import {isPredictData} from './predict-data.js'
import {trainerHints} from '../../core/export/trainer-formats.js'
import {type VocabOptions, vocabularyEntries} from '../../core/grid/vocab.js'
import type {GetokFolder} from './export-inputs.js'
import type {ExportFile, ExportRunInput, ExportSummary} from './export-run.js'

export function summarise(
  input: ExportRunInput,
  built: Pick<CheckedExport, 'records' | 'counts' | 'skips'> & {expressions: ExpressionStats},
  files: readonly ExportFile[],
  vocab: VocabOptions,
  expressionFile: string | null,
  /** predict data whose seg and multi answers continue with a box-offsets turn (the box rule): hint at --followup */
  followUpNext = false,
): ExportSummary {
  const reasons: Record<string, number> = {}
  for (const s of built.skips) reasons[skipKey(s)] = (reasons[skipKey(s)] ?? 0) + 1
  return {
    records: built.records,
    counts: built.counts,
    expressions: {...built.expressions, file: expressionFile, note: expressionNote(built.expressions.source)},
    skipped: built.skips.length,
    skip_reasons: reasons,
    vocabulary: {file: 'vocab.txt', count: vocabularyEntries(vocab).length, tags: vocab.tags, grid: vocab.n, token_style: vocab.style},
    trainer: {
      format: input.format,
      image_root: input.imageRoot ?? null,
      // predict data is for a trained model: what to run on it, not how to train
      hints: isPredictData(input)
        ? predictHints(input.format, files, input.out, followUpNext)
        : trainerHints(input.format, {out: input.out, files, imageRoot: input.imageRoot ?? null}),
    },
  }
}

/** Skip reasons without their numbers, so they count together. */
function skipKey(s: ExportSkip): string {
  return `${s.task ?? 'single-instance tasks'}: ${s.reason.replace(/"[^"]*"/g, '"…"').replace(/\d+(\.\d+)?/g, 'N')}`
}

function expressionNote(source: string): string {
  return source === 'category'
    ? 'no referring expressions given: single-instance prompts name the category ("the cat"); objects ' +
        'whose category occurs more than once in their image were skipped, never given an invented expression'
    : `referring expressions from a ${source === 'refs' ? 'refs pickle' : 'JSONL file'}, ` +
        'joined to curated records by annotation id; splits kept'
}

export function exportConfig(input: ExportRunInput, curated: GetokFolder<unknown>, refineForm: RefineForm): Record<string, unknown> {
  return {
    command: 'export',
    format: input.format,
    tasks: input.tasks,
    curated: input.curated,
    offsets: input.offsets ?? null,
    expressions: input.expressions ?? null,
    templates: input.templates ?? null,
    image_root: input.imageRoot ?? null,
    refine_form: refineForm,
    min_iou: input.minIou,
    default_split: input.defaultSplit,
    tags: input.tags,
    grid: curated.grid,
    token_style: curated.style,
    // SPEC §8: the rule the curated answers decode by (eval reads it from here)
    decode: curated.decode,
  }
}
