/**
 * Referring expressions, from two kinds of file, as one list of
 * `RefExpression` (one per sentence) keyed by COCO annotation id.
 *
 * 1. RefCOCO / RefCOCO+ / RefCOCOg `refs(<split_by>).p`, the pickles of the
 *    `refer` toolkit: a list of refs, each
 *      {ref_id, ann_id, image_id, category_id, split: "train" | "val" | "test" | "testA" | "testB",
 *       sentences: [{sent_id, sent, raw, tokens}], sent_ids, file_name}
 *    The expression is `sent` (lower-cased, tokenised text the toolkit trains
 *    on), or `raw` where a sentence has no `sent`.
 * 2. JSONL, one object a line: {"ann_id": 48152, "expression": "the cat on the left"}
 *    with optional "split" and "image_id".
 */
import {readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {parseJsonl} from './jsonl.js'
import {checkUtf8} from './text-file.js'
import {GetokError, errorCode, showValue} from '../core/errors.js'
import {PickleError, type PickleDict, type PickleValue, unpickle} from '../parsers/pickle.js'

export type ExpressionSource = 'refs' | 'jsonl'

export interface RefExpression {
  annId: number
  imageId?: number
  expression: string
  /** the source's split; undefined when the source has none */
  split?: string
  refId?: number
  sentId?: number
}

export interface ExpressionFile {
  file: string
  source: ExpressionSource
  expressions: RefExpression[]
}

/** Read a refs pickle or an expressions JSONL. */
export async function readExpressionFile(file: string, source: ExpressionSource): Promise<ExpressionFile> {
  const expressions = source === 'refs' ? await readRefsPickle(file) : await readExpressionsJsonl(file)
  return {file, source, expressions}
}

export async function readRefsPickle(file: string): Promise<RefExpression[]> {
  const bytes = await readInput(file)
  let value: PickleValue
  try {
    value = unpickle(bytes)
  } catch (error) {
    if (error instanceof PickleError)
      throw new GetokError(`refs file does not parse: ${error.message}`, {file}, 'a RefCOCO-style refs pickle')
    throw error
  }
  if (!Array.isArray(value)) throw new GetokError('refs file is not a list of refs', {file}, 'a list', describeValue(value))
  return value.flatMap((ref, k) => refToExpressions(ref, {file, record: `ref ${k}`}))
}

function refToExpressions(ref: PickleValue, place: {file: string; record: string}): RefExpression[] {
  if (!isDict(ref)) throw new GetokError('not a ref', place, 'a dict', describeValue(ref))
  const annId = integerField(ref, 'ann_id', place)
  const split = stringField(ref, 'split', place)
  const sentences = ref.sentences
  if (!Array.isArray(sentences))
    throw new GetokError('ref without sentences', {...place, field: 'sentences'}, 'a list', describeValue(sentences))
  const imageId = typeof ref.image_id === 'number' ? ref.image_id : undefined
  const refId = typeof ref.ref_id === 'number' ? ref.ref_id : undefined
  return sentences.map((s, k) => {
    const at = {...place, record: `${place.record} (ann ${annId}), sentence ${k}`}
    if (!isDict(s)) throw new GetokError('not a sentence', at, 'a dict with "sent" or "raw"', describeValue(s))
    const text = typeof s.sent === 'string' && s.sent.trim() ? s.sent : s.raw
    if (typeof text !== 'string' || !text.trim())
      throw new GetokError('sentence without text', {...at, field: 'sent'}, 'a non-empty string', describeValue(text))
    const sentId = typeof s.sent_id === 'number' ? s.sent_id : undefined
    return {annId, imageId, expression: text.trim(), split, refId, sentId}
  })
}

export async function readExpressionsJsonl(file: string): Promise<RefExpression[]> {
  const bytes = await readInput(file)
  checkUtf8(bytes, file)
  const text = new TextDecoder().decode(bytes)
  const out = parseJsonl(text, file).map(({value, line}) => jsonlRowToExpression(value, {file, record: `line ${line}`}))
  if (out.length === 0) throw new GetokError('no expressions in the file', {file}, 'JSONL lines {"ann_id": …, "expression": …}')
  return out
}

function jsonlRowToExpression(row: unknown, place: {file: string; record: string}): RefExpression {
  if (row === null || typeof row !== 'object' || Array.isArray(row))
    throw new GetokError('not an object', place, '{"ann_id": …, "expression": …}', showValue(row))
  const r = row as Record<string, unknown>
  if (!Number.isInteger(r.ann_id)) throw new GetokError('bad annotation id', {...place, field: 'ann_id'}, 'an integer', showValue(r.ann_id))
  if (typeof r.expression !== 'string' || !r.expression.trim())
    throw new GetokError('bad expression', {...place, field: 'expression'}, 'a non-empty string', showValue(r.expression))
  if (r.split !== undefined && typeof r.split !== 'string')
    throw new GetokError('bad split', {...place, field: 'split'}, 'a string', showValue(r.split))
  if (r.image_id !== undefined && !Number.isInteger(r.image_id))
    throw new GetokError('bad image id', {...place, field: 'image_id'}, 'an integer', showValue(r.image_id))
  return {
    annId: r.ann_id as number,
    imageId: r.image_id as number | undefined,
    expression: r.expression.trim(),
    split: r.split as string | undefined,
  }
}

async function readInput(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file)
  } catch (error) {
    throw new GetokError(`cannot read the expressions file (${errorCode(error)})`, {
      file: path.normalize(file),
    })
  }
}

function isDict(v: PickleValue | undefined): v is PickleDict {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function integerField(d: PickleDict, field: string, place: {file: string; record: string}): number {
  const v = d[field]
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new GetokError(`bad ${field}`, {...place, field}, 'an integer', describeValue(v))
  return v
}

function stringField(d: PickleDict, field: string, place: {file: string; record: string}): string {
  const v = d[field]
  if (typeof v !== 'string') throw new GetokError(`bad ${field}`, {...place, field}, 'a string', describeValue(v))
  return v
}

function describeValue(v: PickleValue | undefined): string {
  if (v === undefined) return 'nothing'
  if (v instanceof Uint8Array) return `bytes (${v.length})`
  if (typeof v === 'bigint') return String(v)
  return showValue(v)
}
