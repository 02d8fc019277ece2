/**
 * What `getok inspect --eval` reads: an eval.jsonl (or the eval folder holding it), the run's
 * settings from the manifest.json beside it (annotations, decode rule, mask policy, offset sign,
 * model), else its summary.json's `decode`, and the selection of lines to draw.
 *
 *   eval.jsonl line  {line, image, grid, image_id, ann_ids, split, task, answer, refinement?, iou, box_iou,
 *                     point_hit, format_ok, failure?, detail?, refined?: {iou, box_iou, …}}
 *
 * Worst first: by the IoU of the sample's last turn (after refinement where there is one; a box
 * answer's box IoU, a point answer's hit as 1 or 0), failed samples before others of the same
 * figure, then by line.
 */
import {existsSync, statSync} from 'node:fs'
import * as path from 'node:path'
import {DECODE_RULES, type DecodeRule} from '../../core/decode/prompts.js'
import {GetokError, showValue} from '../../core/errors.js'
import {EVAL_TASKS, type EvalTask} from '../../core/eval/plan.js'
import type {EvalLine} from '../../core/eval/summary.js'
import {MASK_POLICIES, type MaskPolicy} from '../../core/selection/policy.js'
import {readJsonl} from '../../adapters/jsonl.js'
import {readUtf8File} from '../../adapters/text-file.js'
import type {RecordFilter} from './inspect-records.js'

/** The eval run's settings, where its folder records them. */
export interface EvalRunFacts {
  file: string
  lines: EvalLine[]
  annotations?: string
  images?: string
  rule?: DecodeRule
  policy?: MaskPolicy
  flipV?: boolean
  /** the model eval decoded with */
  model?: {name?: string; hash?: string}
  /** where the settings came from, for messages */
  settingsFrom?: string
}

type Json = Record<string, unknown>

export async function readEvalRun(source: string): Promise<EvalRunFacts> {
  if (!existsSync(source)) throw new GetokError('no such eval.jsonl or eval folder', {flag: 'eval', file: source})
  const file = statSync(source).isDirectory() ? path.join(source, 'eval.jsonl') : source
  if (!existsSync(file)) throw new GetokError('the eval folder holds no eval.jsonl (was the run finished?)', {file: source})
  const lines = (await readJsonl(file)).map(({value, line}) => checkLine(value, file, line))
  if (lines.length === 0) throw new GetokError('eval.jsonl holds no sample', {file})
  const facts: EvalRunFacts = {file, lines}
  const dir = path.dirname(file)
  const manifest = await readJson(path.join(dir, 'manifest.json'))
  if (manifest?.command === 'eval' && isObject(manifest.config)) {
    const c = manifest.config
    Object.assign(facts, settingsOf(c.decode, c.policy, c.flip_v), {settingsFrom: path.join(dir, 'manifest.json')})
    if (typeof c.annotations === 'string') facts.annotations = c.annotations
    if (typeof c.images === 'string') facts.images = c.images
    const model = isObject(manifest.model) ? manifest.model : isObject(c.model) ? c.model : undefined
    if (model) facts.model = {name: stringOr(model.name), hash: stringOr(model.hash)}
    return facts
  }
  const summary = await readJson(path.join(dir, 'summary.json'))
  if (summary && isObject(summary.decode)) {
    const d = summary.decode
    Object.assign(facts, settingsOf(d.rule, d.policy, d.flip_v), {settingsFrom: path.join(dir, 'summary.json')})
  }
  return facts
}

function settingsOf(rule: unknown, policy: unknown, flipV: unknown): Partial<EvalRunFacts> {
  return {
    rule: DECODE_RULES.includes(rule as DecodeRule) ? (rule as DecodeRule) : undefined,
    policy: MASK_POLICIES.includes(policy as MaskPolicy) ? (policy as MaskPolicy) : undefined,
    flipV: typeof flipV === 'boolean' ? flipV : undefined,
  }
}

/** The fields inspect needs, checked: a line that lacks one names its file, line and field. */
function checkLine(raw: unknown, file: string, line: number): EvalLine {
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new GetokError('not an eval.jsonl line', {file, record: `line ${line}`, field}, expected, showValue(got))
  }
  if (!isObject(raw)) return fail('(line)', 'a JSON object', raw)
  const int = (v: unknown) => Number.isInteger(v)
  if (typeof raw.image !== 'string' || raw.image === '') fail('image', 'the image path (eval of getok ≥ 0.3)', raw.image)
  if (!int(raw.grid) || (raw.grid as number) < 2) fail('grid', 'an integer ≥ 2', raw.grid)
  if (!int(raw.image_id)) fail('image_id', 'an integer', raw.image_id)
  if (!Array.isArray(raw.ann_ids) || raw.ann_ids.length === 0 || !raw.ann_ids.every(int)) fail('ann_ids', 'a list of integers', raw.ann_ids)
  if (typeof raw.answer !== 'string') fail('answer', 'a string', raw.answer)
  if (!EVAL_TASKS.includes(raw.task as EvalTask)) fail('task', EVAL_TASKS.join(', '), raw.task)
  if (raw.iou !== null && typeof raw.iou !== 'number') fail('iou', 'a number or null', raw.iou)
  return {...(raw as unknown as EvalLine), line: int(raw.line) ? (raw.line as number) : line}
}

/** The figure a sample is ranked by: its last turn's IoU, else its box IoU, else its point's hit. */
export function rankFigure(l: EvalLine): number {
  const turn = l.refined ?? l
  return turn.iou ?? turn.box_iou ?? (turn.point_hit ? 1 : 0)
}

export const failedLine = (l: EvalLine): boolean => !(l.refined ?? l).format_ok

/** Ids, then worst or best first (failed samples count as worst), then the limit. */
export function selectEvalLines(lines: readonly EvalLine[], filter: RecordFilter, file: string): EvalLine[] {
  if (filter.categories) throw new GetokError('--category does not apply to eval lines (they name annotation ids)', {flag: 'category'})
  let out = lines.filter(
    (l) =>
      (!filter.imageIds || filter.imageIds.includes(l.image_id)) && (!filter.annIds || l.ann_ids.some((a) => filter.annIds!.includes(a))),
  )
  for (const id of filter.annIds ?? [])
    if (!out.some((l) => l.ann_ids.includes(id))) throw new GetokError(`no sample of ann id ${id}`, {file}, 'a line matching every filter')
  for (const id of filter.imageIds ?? [])
    if (!out.some((l) => l.image_id === id)) throw new GetokError(`no sample of image id ${id}`, {file}, 'a line matching every filter')
  const count = filter.worst ?? filter.best
  if (count !== undefined) {
    const sign = filter.worst !== undefined ? 1 : -1
    const failedFirst = (l: EvalLine) => (failedLine(l) ? 0 : 1)
    out = [...out]
      .sort((a, b) => sign * (rankFigure(a) - rankFigure(b)) || sign * (failedFirst(a) - failedFirst(b)) || a.line - b.line)
      .slice(0, count)
  }
  if (out.length === 0) throw new GetokError('no sample matches the selection', {file})
  return filter.limit !== undefined ? out.slice(0, filter.limit) : out
}

async function readJson(file: string): Promise<Json | null> {
  if (!existsSync(file)) return null
  try {
    const v = JSON.parse(await readUtf8File(file))
    return isObject(v) ? v : null
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`not JSON (${(error as Error).message})`, {file})
  }
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
