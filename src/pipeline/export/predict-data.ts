/**
 * What `getok export --predict` and `--followup` change in an export (core/export/predict.ts): which
 * conversations are written, and what the manifest says of them. A follow-up reads the model's
 * answers of the first predict run by the id of the conversation they answer (a `--predict` record
 * carries it; LLaMA-Factory's predictions are matched to the records of the data file given as
 * --reference, line by line, as eval does).
 */
import {GetokError} from '../../core/errors.js'
import type {Conversation, ExportSkip} from '../../core/export/conversations.js'
import {answerAsContext, asFollowUp, continues, forPrediction} from '../../core/export/predict.js'
import {readPredictions} from '../eval/read-predictions.js'
import type {Warn} from '../shared/input-folders.js'
import type {ExportRunInput} from './export-run.js'

/** Data for a trained model's predict runs (--predict or --followup), not for training. */
export function isPredictData(input: Pick<ExportRunInput, 'predict' | 'followup'>): boolean {
  return input.predict === true || input.followup !== undefined
}

export interface FollowUpInput {
  predictions: string
  /** the --predict data file the predictions answer (LLaMA-Factory: required) */
  reference?: string
}

export interface FollowUpAnswers {
  answers: Map<string, string>
  /** for the manifest: which predictions the follow-up was made from */
  source: {predictions: string; sha256: string; rows: number}
}

/** `warn`: the --reference data file is not the bytes its export manifest lists. */
export async function readFollowUpAnswers(input: FollowUpInput, warn?: Warn): Promise<FollowUpAnswers> {
  const file = await readPredictions(input.predictions, undefined, input.reference, warn)
  const answers = new Map<string, string>()
  for (const row of file.rows) if (row.conversationId !== undefined) answers.set(row.conversationId, answerAsContext(row.text))
  if (answers.size === 0) {
    const why = file.rows.length === 0 ? `no row is a ${file.format} prediction (line ${file.bad[0]?.line}: ${file.bad[0]?.reason})` : ''
    throw new GetokError(
      why ||
        'no prediction names the conversation it answers: predict on the data of getok export --predict ' +
          '(its records carry an "id"; LLaMA-Factory\'s predictions: pass that data file as --reference)',
      {file: input.predictions, field: 'id'},
    )
  }
  return {answers, source: {predictions: input.predictions, sha256: file.sha256, rows: file.rows.length + file.bad.length}}
}

/**
 * One conversation as the run gets it: as built for training, ended at the model's first answer for a
 * predict run (--predict), or with that answer for its second run (--followup; undefined: not in it).
 */
export function forTrainerRun(input: ExportRunInput, followUp: FollowUpAnswers | null): (c: Conversation) => Conversation | undefined {
  if (followUp) return (c) => asFollowUp(c, followUp.answers)
  return input.predict ? forPrediction : (c) => c
}

/** A follow-up's skip of a conversation that continues but has no answer in the predictions. */
export function missingAnswer(c: Conversation, followUp: FollowUpAnswers | null): ExportSkip | undefined {
  if (!followUp || !continues(c) || followUp.answers.has(c.id)) return undefined
  return {image_id: c.imageId, ann_id: c.annIds[0], task: c.task, reason: 'no answer to follow up in the predictions'}
}

/** A follow-up none of whose predictions answers a conversation that continues. */
export function noFollowUp(followUp: FollowUpAnswers): GetokError {
  return new GetokError(
    `none of the ${followUp.answers.size} predictions answers a conversation that continues (a box-rule seg or multi ` +
      'answer): make the follow-up with the inputs and flags of the --predict export the predictions answer',
    {file: followUp.source.predictions, field: 'id'},
  )
}

export function predictConfig(input: ExportRunInput, followUp: FollowUpAnswers | null): Record<string, unknown> {
  if (followUp) return {predict: true, followup: followUp.source}
  return input.predict ? {predict: true} : {}
}
