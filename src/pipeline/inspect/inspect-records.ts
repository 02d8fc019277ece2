/**
 * The records `getok inspect` draws: read from one shard, a folder of shards or
 * a manifest, parsed defensively (curate and offsets records both), and
 * selected by ids, category and IoU.
 *
 *   curate record   {image, image_id, ann_id, category, grid, points: [[i, j], …] | seg, iou, policy, model, …,
 *                    decode?: "union" | "box", box, box_offsets (box rule)}
 *   offsets record  {image, image_id, ann_id, grid, pairs: [{point, region, offset: [du, dv] | "delete"}], prev, target, …,
 *                    decode?, box_prev, box_offsets: [[du, dv], [du, dv]] (decoded under the box rule when decode is "box")}
 *
 * A record names its decode rule (SPEC §8); one that names none was made before rules existed: union.
 */
import {existsSync, statSync} from 'node:fs'
import {readdir} from 'node:fs/promises'
import * as path from 'node:path'
import type {Cell, Move} from '../../core/grid/grid.js'
import {curatedAnswer, curatedRule} from '../../core/decode/curated-answer.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import {MASK_POLICIES, type MaskPolicy} from '../../core/selection/policy.js'
import {type OffsetTarget, TokenParseError, parseTokens} from '../../core/grid/tokens.js'
import {GetokError, showValue} from '../../core/errors.js'
import {readJsonl} from '../../adapters/jsonl.js'
import {readUtf8File} from '../../adapters/text-file.js'
import {type ListedShard, type Warn, warnIfChanged} from '../shared/input-folders.js'

export type RecordKind = 'curate' | 'offsets'

export interface InspectRecord {
  kind: RecordKind
  /** where it came from, for messages: "<file> line <k>" */
  file: string
  line: number
  image: string
  imageId?: number
  annId?: number
  category?: string
  categoryId?: number
  grid: number
  width?: number
  height?: number
  cells: Cell[]
  /** offsets records: one per cell */
  offsets?: OffsetTarget[]
  /** the decode rule the record names (union when it names none) */
  rule: DecodeRule
  /** box rule: the box tokens (top-left, bottom-right) and each corner's move (box_offsets) */
  box?: [Cell, Cell]
  boxMoves?: [Move, Move]
  regions?: string[]
  /** the IoU the record claims (curate) */
  iou?: number
  policy?: MaskPolicy
  model?: string
  modelHash?: string
  flipV?: boolean
}

export interface RecordFilter {
  imageIds?: number[]
  annIds?: number[]
  /** names or ids */
  categories?: string[]
  worst?: number
  best?: number
  limit?: number
}

type Json = Record<string, unknown>

interface ShardSource {
  files: string[]
  config: Json
  /** where a manifest names the files: its command and each file's entry, by path */
  listed?: {command: string; shards: Map<string, ListedShard>}
}

/** Shard files named by a path: a .jsonl file, a manifest.json, or a folder (its manifest, else its *.jsonl). */
export async function shardFiles(source: string): Promise<ShardSource> {
  if (!existsSync(source)) throw new GetokError('no such shard, folder or manifest', {file: source})
  if (statSync(source).isDirectory()) {
    const manifest = path.join(source, 'manifest.json')
    if (existsSync(manifest)) return shardFiles(manifest)
    const names = (await readdir(source)).filter((f) => f.endsWith('.jsonl')).sort()
    if (names.length === 0) throw new GetokError('folder holds no manifest.json and no .jsonl shard', {file: source})
    return {files: names.map((f) => path.join(source, f)), config: {}}
  }
  if (path.basename(source) === 'manifest.json' || source.endsWith('.json')) return manifestShards(source)
  return {files: [source], config: {}, listed: await listedBeside(source)}
}

/** A shard given alone is still checked against the manifest beside it, where that one lists it. */
async function listedBeside(file: string): Promise<ShardSource['listed']> {
  const manifest = path.join(path.dirname(file), 'manifest.json')
  if (!existsSync(manifest)) return undefined
  const beside = await manifestShards(manifest).catch(() => undefined) // not one to read: the shard is read as given
  const entry = beside?.listed?.shards.get(path.join(path.dirname(file), path.basename(file)))
  return entry && {command: beside!.listed!.command, shards: new Map([[file, entry]])}
}

async function manifestShards(file: string): Promise<ShardSource> {
  let manifest: Json
  try {
    manifest = JSON.parse(await readUtf8File(file)) as Json
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`cannot read the manifest (${(error as Error).message})`, {file})
  }
  checkDrawable(manifest.command, file)
  const shards = manifest.shards
  if (!Array.isArray(shards)) throw new GetokError('not a getok manifest', {file, field: 'shards'}, 'an array', showValue(shards))
  const dir = path.dirname(file)
  const files = shards.map((s: Json) => path.join(dir, String(s?.file ?? s?.shard ?? s)))
  const missing = files.filter((f) => !existsSync(f))
  if (missing.length > 0) throw new GetokError('shard listed in the manifest is missing', {file}, undefined, missing[0])
  const listed = {command: String(manifest.command), shards: new Map(files.map((f, k) => [f, shards[k] as ListedShard]))}
  return {files, config: isObject(manifest.config) ? manifest.config : {}, listed}
}

/** A manifest of a command whose records are not token sets to draw: say what to do instead of failing on its first line. */
function checkDrawable(command: unknown, file: string): void {
  if (command === undefined || command === 'curate' || command === 'offsets') return
  const hint = command === 'eval' ? `: draw its samples with --eval ${path.dirname(file)}` : ''
  throw new GetokError(`not curate or offsets output${hint}`, {file, field: 'command'}, '"curate" or "offsets"', showValue(command))
}

/** Every record of the source, parsed; `warn` is told of each shard whose bytes are not those its manifest lists. */
export async function readRecords(source: string, warn?: Warn): Promise<InspectRecord[]> {
  const {files, config, listed} = await shardFiles(source)
  const out: InspectRecord[] = []
  for (const file of files) {
    const entry = listed?.shards.get(file)
    const check = entry && ((bytes: Buffer) => warnIfChanged(file, entry, bytes, listed!.command, warn))
    for (const {value, line} of await readJsonl(file, {bytes: check || undefined})) out.push(parseRecord(value, file, line, config))
  }
  return out
}

/** One record, curate or offsets, read by field name; anything unusable is a GetokError naming file and line. */
export function parseRecord(raw: unknown, file: string, line: number, config: Json = {}): InspectRecord {
  const fail = (what: string, field?: string, expected?: string, got?: unknown): never => {
    throw new GetokError(what, {file, record: `line ${line}`, field}, expected, got === undefined ? undefined : showValue(got))
  }
  if (!isObject(raw)) return fail('record is not an object', undefined, 'a JSON object', raw)
  if (typeof raw.image !== 'string' || raw.image === '') return fail('record has no image path', 'image', 'a string', raw.image)
  const grid = raw.grid ?? config.grid
  if (!Number.isInteger(grid) || (grid as number) < 2) return fail('bad grid size', 'grid', 'an integer ≥ 2', grid)
  const flip = raw.flip_v ?? raw.flipV ?? config.flip_v ?? config.flipV
  const record: InspectRecord = {
    kind: Array.isArray(raw.pairs) || typeof raw.target === 'string' ? 'offsets' : 'curate',
    file,
    line,
    image: raw.image,
    imageId: intOrUndefined(raw.image_id),
    annId: intOrUndefined(raw.ann_id),
    category: typeof raw.category === 'string' ? raw.category : undefined,
    categoryId: intOrUndefined(raw.category_id),
    grid: grid as number,
    width: intOrUndefined(raw.width),
    height: intOrUndefined(raw.height),
    cells: [],
    rule: 'union',
    iou: typeof raw.iou === 'number' ? raw.iou : undefined,
    policy: policyOf(raw.policy ?? config.policy),
    model: typeof raw.model === 'string' ? raw.model : undefined,
    modelHash: typeof raw.model_hash === 'string' ? raw.model_hash : undefined,
    flipV: typeof flip === 'boolean' ? flip : undefined,
  }
  const label = `line ${line}${record.annId !== undefined ? ` (ann ${record.annId})` : ''}`
  try {
    if (record.kind === 'offsets') readOffsetPairs(raw, record)
    else readCuratePoints(raw, record)
    readRule(raw, record)
  } catch (error) {
    if (error instanceof GetokError)
      throw new GetokError(error.what, {file, record: label, field: error.place.field}, error.expected, error.got)
    if (error instanceof TokenParseError) throw new GetokError(error.message, {file, record: label})
    throw error
  }
  return record
}

function readCuratePoints(raw: Json, record: InspectRecord): void {
  if (Array.isArray(raw.points)) {
    record.cells = raw.points.map((p) => readCell(p, record.grid, 'points'))
    return
  }
  if (typeof raw.seg !== 'string') throw new GetokError('record has neither points nor seg', {field: 'points'})
  record.cells = parseTokens(raw.seg, record.grid).flatMap((g) => g.cells)
}

/** The record's rule, and under `box` its box tokens and corner moves (curate: box_offsets tokens; offsets: box_offsets moves). */
function readRule(raw: Json, record: InspectRecord): void {
  record.rule = curatedRule({decode: raw.decode as DecodeRule | undefined})
  if (record.rule === 'union') return
  if (record.kind === 'curate') {
    const fields = {
      points: record.cells,
      box: String(raw.box ?? ''),
      decode: record.rule,
      box_offsets: raw.box_offsets as string | undefined,
    }
    const {answer} = curatedAnswer(fields, record.grid)
    ;[record.box, record.boxMoves] = [answer.box as [Cell, Cell], answer.boxMoves as [Move, Move]]
    return
  }
  const [box] = typeof raw.box_prev === 'string' ? parseTokens(raw.box_prev, record.grid) : []
  if (box?.kind !== 'box')
    throw new GetokError('a box-rule offsets record needs its box', {field: 'box_prev'}, '<box>…</box>', showValue(raw.box_prev))
  const moves = raw.box_offsets
  const isMove = (m: unknown) => Array.isArray(m) && m.length === 2 && m.every((v) => v === -1 || v === 0 || v === 1)
  if (!Array.isArray(moves) || moves.length !== 2 || !moves.every(isMove))
    throw new GetokError('not two box corner moves', {field: 'box_offsets'}, '[[du, dv], [du, dv]] in {-1, 0, 1}', showValue(moves))
  record.box = [box.cells[0], box.cells[1]]
  record.boxMoves = moves as [Move, Move]
}

function readOffsetPairs(raw: Json, record: InspectRecord): void {
  if (Array.isArray(raw.pairs)) {
    record.cells = raw.pairs.map((p: Json) => readCell(p?.point, record.grid, 'pairs[].point'))
    record.offsets = raw.pairs.map((p: Json) => readOffset(p?.offset))
    record.regions = raw.pairs.map((p: Json) => (typeof p?.region === 'string' ? p.region : '?'))
    return
  }
  // no pairs: the prev/target token strings carry the same
  if (typeof raw.prev !== 'string') throw new GetokError('offsets record has neither pairs nor prev', {field: 'prev'})
  record.cells = parseTokens(raw.prev, record.grid).flatMap((g) => g.cells)
  record.offsets = parseTokens(String(raw.target), record.grid).flatMap((g) => g.offsets ?? [])
  if (record.offsets.length !== record.cells.length) {
    throw new GetokError(
      'target does not pair with prev',
      {field: 'target'},
      `${record.cells.length} offset tokens`,
      String(record.offsets.length),
    )
  }
}

function readCell(value: unknown, n: number, field: string): Cell {
  const ok = Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v) && v >= 0 && v < n)
  if (!ok) throw new GetokError('bad grid point', {field}, `[i, j] with 0 ≤ i, j < ${n}`, showValue(value))
  return value as Cell
}

function readOffset(value: unknown): OffsetTarget {
  if (value === 'delete') return 'delete'
  const ok = Array.isArray(value) && value.length === 2 && value.every((v) => v === -1 || v === 0 || v === 1)
  if (!ok) throw new GetokError('bad offset', {field: 'pairs[].offset'}, '[du, dv] in {-1, 0, 1} or "delete"', showValue(value))
  return value as OffsetTarget
}

/** Filter by ids and category, then order by IoU (worst or best first), then cut to the limit. */
export function selectRecords(records: readonly InspectRecord[], filter: RecordFilter, source: string): InspectRecord[] {
  let out = records.filter(
    (r) =>
      (!filter.imageIds || (r.imageId !== undefined && filter.imageIds.includes(r.imageId))) &&
      (!filter.annIds || (r.annId !== undefined && filter.annIds.includes(r.annId))) &&
      (!filter.categories || filter.categories.some((c) => c === r.category || c === String(r.categoryId))),
  )
  for (const id of filter.annIds ?? []) {
    if (!out.some((r) => r.annId === id))
      throw new GetokError(`no record with ann id ${id}`, {file: source}, 'a record matching every filter')
  }
  for (const id of filter.imageIds ?? []) {
    if (!out.some((r) => r.imageId === id))
      throw new GetokError(`no record with image id ${id}`, {file: source}, 'a record matching every filter')
  }
  const byIou = filter.worst ?? filter.best
  if (byIou !== undefined) {
    if (out.some((r) => r.iou === undefined)) {
      throw new GetokError('--worst/--best order records by their iou field, which these records lack (offsets records carry none)', {
        file: source,
      })
    }
    const sign = filter.worst !== undefined ? 1 : -1
    out = [...out].sort((a, b) => sign * (a.iou! - b.iou!)).slice(0, byIou)
  }
  if (out.length === 0) throw new GetokError('no record matches the selection', {file: source})
  return filter.limit !== undefined ? out.slice(0, filter.limit) : out
}

function policyOf(v: unknown): MaskPolicy | undefined {
  return MASK_POLICIES.includes(v as MaskPolicy) ? (v as MaskPolicy) : undefined
}

function intOrUndefined(v: unknown): number | undefined {
  return Number.isInteger(v) ? (v as number) : undefined
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
