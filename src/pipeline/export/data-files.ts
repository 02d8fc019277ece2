/**
 * Export's data files, one per split, in passes over a conversation source: every conversation and its
 * record is built and checked (split name, tokens inside the vocabulary, one image tag) before anything
 * is written, keeping only counts and skips; then each split's are built again and streamed to its
 * file. No conversation, record or file text is ever held beyond the one being made: at COCO scale
 * (860k curated objects, about 2.2 million records) a file is over 500 MB, more than one JavaScript
 * string holds.
 */
import * as path from 'node:path'
import {writeFileAtomicChunks} from '../../adapters/shards.js'
import {type ConversationSource, isSkip} from '../../core/export/conversation-source.js'
import type {Conversation, ExportSkip} from '../../core/export/conversations.js'
import {GetokError, showValue} from '../../core/errors.js'
import {continues, predictFields} from '../../core/export/predict.js'
import {type TrainerRecord, dataFileName, imageTagCount, recordTexts, toTrainerRecord} from '../../core/export/trainer-formats.js'
import {tokensOutsideVocabulary} from '../../core/grid/vocab.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import type {ExportFile, ExportRunInput} from './export-run.js'
import {type FollowUpAnswers, forTrainerRun, isPredictData, missingAnswer, noFollowUp} from './predict-data.js'

const SPLIT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

function imagePath(input: ExportRunInput, image: string): string {
  return input.imageRoot === undefined ? image : path.posix.join(input.imageRoot.split(path.sep).join('/'), image)
}

function trainerRecord(input: ExportRunInput, c: Conversation): TrainerRecord {
  const extra = isPredictData(input) ? predictFields(c, input.followup !== undefined) : undefined
  return toTrainerRecord(input.format, c, imagePath(input, c.image), extra)
}

/** What the check pass keeps for the write pass and the manifest: counts and skips, never conversations. */
export interface CheckedExport {
  records: number
  /** task → split → records, every task of the run, splits in the order first met */
  counts: Record<string, Record<string, number>>
  /** split → records */
  splits: Map<string, number>
  /** the source's, then building's in order, then a follow-up's missing answers */
  skips: ExportSkip[]
  /** some conversation (as built, before --predict ends it) continues past its first answer */
  continues: boolean
}

/**
 * Builds every conversation and checks its record; a bad split name, a token outside the vocabulary
 * or a wrong image-tag count stops the export, naming the file and the conversation.
 */
export function checkConversations(
  input: ExportRunInput,
  source: ConversationSource,
  followUp: FollowUpAnswers | null,
  vocabulary: ReadonlySet<string>,
  progress: Progress = silentProgress,
): CheckedExport {
  const out: CheckedExport = {records: 0, counts: {}, splits: new Map(), skips: [...source.skips], continues: false}
  for (const t of input.tasks) out.counts[t] = {}
  const missing: ExportSkip[] = []
  const forRun = forTrainerRun(input, followUp)
  progress.start(source.size, 0)
  let done = 0
  for (const b of source.build()) {
    if (isSkip(b)) out.skips.push(b)
    else {
      out.continues ||= continues(b)
      const skip = missingAnswer(b, followUp)
      if (skip) missing.push(skip)
      const c = forRun(b)
      if (c) count(out, checkRecord(input, c, vocabulary))
    }
    progress.tick(++done, `conversations built (${out.records} records checked)`)
  }
  progress.end()
  if (followUp && out.records === 0) throw noFollowUp(followUp)
  out.skips.push(...missing)
  return out
}

function count(out: CheckedExport, c: Conversation): void {
  out.records++
  out.counts[c.task][c.split] = (out.counts[c.task][c.split] ?? 0) + 1
  out.splits.set(c.split, (out.splits.get(c.split) ?? 0) + 1)
}

/** The conversation, once its record passed. */
function checkRecord(input: ExportRunInput, c: Conversation, vocabulary: ReadonlySet<string>): Conversation {
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
  return c
}

/** The data files, in split order, each written as its records are built again; `progress` counts records over all splits. */
export async function writeDataFiles(
  input: ExportRunInput,
  source: ConversationSource,
  followUp: FollowUpAnswers | null,
  checked: CheckedExport,
  progress: Progress = silentProgress,
): Promise<ExportFile[]> {
  const files: ExportFile[] = []
  const forRun = forTrainerRun(input, followUp)
  let done = 0
  progress.start(checked.records, 0)
  for (const [split, records] of [...checked.splits.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const file = dataFileName(input.format, split)
    const chunks = function* (): Generator<string> {
      const llava = input.format === 'llava'
      // llava: JSON.stringify(records, null, 1) + '\n', one record at a time (a split has at least one)
      if (llava) yield '[\n'
      let k = 0
      for (const b of source.build(split)) {
        const c = isSkip(b) ? undefined : forRun(b)
        if (!c) continue
        const record = trainerRecord(input, c)
        yield llava ? `${k > 0 ? ',\n' : ''} ${JSON.stringify(record, null, 1).replaceAll('\n', '\n ')}` : JSON.stringify(record) + '\n'
        progress.tick(++done, `records written (${file})`)
        k++
      }
      // building is deterministic; a different count would be a bug, never a file to keep
      if (k !== records) throw new Error(`${file}: ${k} records built to write, ${records} when checked`)
      if (llava) yield '\n]\n'
    }
    const {bytes, sha256} = await writeFileAtomicChunks(path.join(input.out, file), chunks())
    files.push({file, split, records, bytes, sha256})
  }
  progress.end()
  return files
}
