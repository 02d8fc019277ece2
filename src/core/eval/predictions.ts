/**
 * Prediction rows as trainers write them → what eval needs of each: the model's text, the
 * conversation it answered (image, reference answer, earlier turns) and the ids, where given.
 *
 *   plain         {"image_id": 139, "ann_id": 2045 | "ann_ids": [2045, 2046], "answer": "<seg>…</seg>",
 *                  "refinement"?: "<offset><seg>…</seg></offset>", "split"?: "val", "task"?: "seg"}
 *   swift         ms-swift `swift infer --result_path` JSONL: the dataset row with "response" added,
 *                 "labels" (the reference answer it removed from "messages"; older versions keep it as
 *                 the last assistant message) and the row's other fields, getok's ids among them
 *   llamafactory  LLaMA-Factory `generated_predictions.jsonl`: {"prompt", "predict", "label"} per line,
 *                 line k answering line k of the data file given as the reference
 *
 * Ids come from the fields image_id, ann_id or ann_ids, split and task where a row has them (the
 * plain form always; rows of `getok export --predict` data; a LLaVA record's "id" is
 * `<image_id>_<ann_id>_<key>_<task>`); otherwise eval finds the object from the reference answer.
 * A field that is there but of the wrong type makes the row unusable, with the field named: a
 * silently ignored "task" or "split" would put the row in the wrong figures. null counts as absent
 * (a datasets-based trainer fills a column some rows lack with null).
 */
import {showValue} from '../errors.js'
import {tokenSpan} from './answer.js'
import {EVAL_TASKS, type EvalTask} from './plan.js'

export const PREDICTION_FORMATS = ['plain', 'swift', 'llamafactory'] as const
export type PredictionFormat = (typeof PREDICTION_FORMATS)[number]

type Json = Record<string, unknown>

export interface PredictionRow {
  /** line of the predictions file, from 1 */
  line: number
  /** the model's text for the last turn */
  text: string
  imageId?: number
  annIds?: number[]
  split?: string
  task?: EvalTask
  /** image path as the data file names it */
  imagePath?: string
  /** the reference answer of the last turn (the exported target) */
  label?: string
  /** the answer before the last turn: the previous assistant turn, or the tokens in the last prompt */
  previous?: string
  /** plain rows: their refinement */
  refinement?: string
  /** the exported conversation's id (`getok export --predict` writes it; LLaVA records always have one) */
  conversationId?: string
  /** "model": the answer before the last turn is the model's own (a `getok export --followup` record) */
  answerFrom?: 'model'
}

/** Which form a file's first row has; null when none fits. */
export function detectFormat(row: unknown): PredictionFormat | null {
  if (!isObject(row)) return null
  if (typeof row.answer === 'string') return 'plain'
  if (typeof row.response === 'string' && Array.isArray(row.messages)) return 'swift'
  if (typeof row.predict === 'string') return 'llamafactory'
  return null
}

/** A row of the given form → a prediction row, or the reason it cannot be one. */
export function readPredictionRow(format: PredictionFormat, row: unknown, line: number, reference?: unknown): PredictionRow | string {
  if (!isObject(row)) return 'not a JSON object'
  if (format === 'plain') {
    if (typeof row.answer !== 'string') return 'no "answer" string'
    if (row.refinement !== undefined && typeof row.refinement !== 'string') return '"refinement" is not a string'
    const given = ids(row)
    if (typeof given === 'string') return given
    return {line, text: row.answer, ...given, ...(typeof row.refinement === 'string' ? {refinement: row.refinement} : {})}
  }
  if (format === 'swift') {
    if (typeof row.response !== 'string') return 'no "response" string'
    const messages = turnsOf(row)
    if (!messages) return 'no "messages" list'
    // ms-swift ≥ 3 moves the reference answer to "labels" and appends the response to "messages"
    const hasLabels = 'labels' in row
    const context = messages.length > 0 && messages[messages.length - 1].role === 'assistant' ? messages.slice(0, -1) : messages
    const label = hasLabels ? (typeof row.labels === 'string' ? row.labels : undefined) : messages.at(-1)?.content
    const said = conversation(row, context, label)
    return typeof said === 'string' ? said : {line, text: row.response, ...said}
  }
  if (typeof row.predict !== 'string') return 'no "predict" string'
  if (!isObject(reference)) return 'no reference record for this line (pass the exported data file as --reference)'
  const turns = turnsOf(reference)
  if (!turns) return 'the reference record has no "messages" or "conversations"'
  const last = turns.length > 0 && turns[turns.length - 1].role === 'assistant' ? turns.length - 1 : turns.length
  // the data file's answer first: LLaMA-Factory's "label" is decoded text, where skip_special_tokens drops our tokens
  const label = turns[last]?.content ?? (typeof row.label === 'string' ? row.label : undefined)
  const said = conversation(reference, turns.slice(0, last), label)
  return typeof said === 'string' ? `reference record: ${said}` : {line, text: row.predict, ...said}
}

interface Turn {
  role: 'user' | 'assistant' | 'system'
  content: string
}

/** swift "messages" or ShareGPT "conversations" as one list of turns. */
function turnsOf(r: Json): Turn[] | null {
  const list = Array.isArray(r.messages) ? r.messages : Array.isArray(r.conversations) ? r.conversations : null
  if (!list) return null
  const role = (t: Json): Turn['role'] => {
    const v = String(t.role ?? t.from)
    return v === 'assistant' || v === 'gpt' ? 'assistant' : v === 'system' ? 'system' : 'user'
  }
  return list.filter(isObject).map((t) => ({role: role(t), content: String(t.content ?? t.value ?? '')}))
}

/** What the answered conversation says: image, ids, reference answer and the answer before the last turn. */
function conversation(r: Json, context: readonly Turn[], label: string | undefined): Omit<PredictionRow, 'line' | 'text'> | string {
  const given = ids(r)
  if (typeof given === 'string') return given
  const out: Omit<PredictionRow, 'line' | 'text'> = {...given}
  const image = imageOf(r)
  if (image) out.imagePath = image
  if (label !== undefined) out.label = label
  const lastUser = [...context].reverse().find((t) => t.role === 'user')
  const userTokens = lastUser ? tokenSpan(lastUser.content) : ''
  const previousAssistant = context.at(-1)?.role === 'user' ? context.at(-2) : undefined
  if (userTokens) out.previous = userTokens
  else if (previousAssistant?.role === 'assistant') out.previous = previousAssistant.content
  return out
}

function imageOf(r: Json): string | undefined {
  const first = Array.isArray(r.images) ? r.images[0] : r.image
  if (typeof first === 'string') return first
  // ms-swift may write images as {"path": …, "bytes": …}
  if (isObject(first) && typeof first.path === 'string') return first.path
  return undefined
}

type RowIds = Pick<PredictionRow, 'imageId' | 'annIds' | 'split' | 'task' | 'conversationId' | 'answerFrom'>

/** The ids a row names, or the reason a field it has is unusable. */
function ids(r: Json): RowIds | string {
  const out: RowIds = {}
  const has = (key: string) => r[key] !== undefined && r[key] !== null
  const wrong = (key: string, expected: string) => `"${key}" is not ${expected} (got ${showValue(r[key])})`
  if (has('image_id')) {
    if (!Number.isInteger(r.image_id)) return wrong('image_id', 'an integer')
    out.imageId = r.image_id as number
  }
  if (has('ann_ids')) {
    const list = r.ann_ids
    if (!Array.isArray(list) || list.length === 0 || !list.every(Number.isInteger)) return wrong('ann_ids', 'a non-empty list of integers')
    out.annIds = list as number[]
  }
  if (has('ann_id')) {
    if (!Number.isInteger(r.ann_id)) return wrong('ann_id', 'an integer')
    out.annIds = [r.ann_id as number]
  }
  if (has('split')) {
    if (typeof r.split !== 'string' || !r.split) return wrong('split', 'a non-empty string')
    out.split = r.split
  }
  if (has('task')) {
    if (!(EVAL_TASKS as readonly unknown[]).includes(r.task)) return wrong('task', `one of ${EVAL_TASKS.join(', ')}`)
    out.task = r.task as EvalTask
  }
  if (has('answer_from')) {
    if (r.answer_from !== 'model' && r.answer_from !== 'data') return wrong('answer_from', '"model" or "data"')
    if (r.answer_from === 'model') out.answerFrom = 'model'
  }
  if (typeof r.id === 'string' && r.id) out.conversationId = r.id
  // a LLaVA record's id: <image_id>_<ann_id>_<key>_<task> (single-instance conversations)
  const m = typeof r.id === 'string' ? r.id.match(/^(\d+)_(\d+)_[^_]+_(seg|box|point|refine)$/) : null
  if (m) {
    out.imageId ??= Number(m[1])
    out.annIds ??= [Number(m[2])]
    out.task ??= m[3] as EvalTask
  }
  return out
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
