/**
 * Export's data files, one per split, in two passes over the conversations: every record is built and
 * checked (split name, tokens inside the vocabulary, one image tag) before anything is written; then
 * each split's records are built again and streamed to its file. No split's records or text is ever
 * held whole: at COCO scale (860k curated objects, about 3.7 million records) a file is over
 * 500 MB, more than one JavaScript string holds.
 */
import * as path from 'node:path'
import {writeFileAtomicChunks} from '../../adapters/shards.js'
import type {Conversation} from '../../core/export/conversations.js'
import {GetokError, showValue} from '../../core/errors.js'
import {predictFields} from '../../core/export/predict.js'
import {type TrainerRecord, dataFileName, imageTagCount, recordTexts, toTrainerRecord} from '../../core/export/trainer-formats.js'
import {tokensOutsideVocabulary} from '../../core/grid/vocab.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import type {ExportFile, ExportRunInput} from './export-run.js'
import {isPredictData} from './predict-data.js'

const SPLIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

function imagePath(input: ExportRunInput, image: string): string {
  return input.imageRoot === undefined ? image : path.posix.join(input.imageRoot.split(path.sep).join('/'), image)
}

function trainerRecord(input: ExportRunInput, c: Conversation): TrainerRecord {
  const extra = isPredictData(input) ? predictFields(c, input.followup !== undefined) : undefined
  return toTrainerRecord(input.format, c, imagePath(input, c.image), extra)
}

/** Conversations grouped by split, each checked; a token outside the vocabulary or a wrong image-tag count stops the export. */
export function checkedBySplit(
  input: ExportRunInput,
  conversations: readonly Conversation[],
  vocabulary: ReadonlySet<string>,
  progress: Progress = silentProgress,
): Map<string, Conversation[]> {
  const out = new Map<string, Conversation[]>()
  progress.start(conversations.length, 0)
  let done = 0
  for (const c of conversations) {
    const record = trainerRecord(input, c)
    const place = {file: dataFileName(input.format, c.split), record: `conversation ${c.id}`}
    if (!SPLIT_NAME.test(c.split))
      throw new GetokError(
        'split name unusable in a file name',
        {...place, field: 'split'},
        'letters, digits, "_", "-" or "."',
        showValue(c.split),
      )
    // a follow-up's first answer is the model's, whatever it wrote: eval scores it, export keeps it
    const modelAnswer = input.followup ? c.turns[0].assistant : undefined
    const bad = recordTexts(record)
      .filter((t) => t !== modelAnswer)
      .flatMap((t) => tokensOutsideVocabulary(t, vocabulary))
    if (bad.length > 0)
      throw new GetokError(
        'token outside the exported vocabulary',
        place,
        `tokens of the ${vocabulary.size}-token vocabulary`,
        bad.slice(0, 3).join(' '),
      )
    if (imageTagCount(record) !== 1)
      throw new GetokError('a record must hold exactly one <image> tag for its one image', place, '1', String(imageTagCount(record)))
    const list = out.get(c.split) ?? []
    list.push(c)
    out.set(c.split, list)
    progress.tick(++done, 'records checked')
  }
  progress.end()
  return out
}

/** The data files, in split order, each written as its records are made; `progress` counts records over all splits. */
export async function writeDataFiles(
  input: ExportRunInput,
  bySplit: ReadonlyMap<string, readonly Conversation[]>,
  progress: Progress = silentProgress,
): Promise<ExportFile[]> {
  const files: ExportFile[] = []
  let done = 0
  progress.start(
    [...bySplit.values()].reduce((n, l) => n + l.length, 0),
    0,
  )
  for (const [split, conversations] of [...bySplit.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const file = dataFileName(input.format, split)
    const chunks = function* (): Generator<string> {
      const llava = input.format === 'llava'
      // llava: JSON.stringify(records, null, 1) + '\n', one record at a time
      if (llava) yield conversations.length === 0 ? '[]' : '[\n'
      for (const [k, c] of conversations.entries()) {
        const record = trainerRecord(input, c)
        yield llava ? `${k > 0 ? ',\n' : ''} ${JSON.stringify(record, null, 1).replaceAll('\n', '\n ')}` : JSON.stringify(record) + '\n'
        progress.tick(++done, `records written (${file})`)
      }
      if (llava) yield conversations.length === 0 ? '\n' : '\n]\n'
    }
    const {bytes, sha256} = await writeFileAtomicChunks(path.join(input.out, file), chunks())
    files.push({file, split, records: conversations.length, bytes, sha256})
  }
  progress.end()
  return files
}
