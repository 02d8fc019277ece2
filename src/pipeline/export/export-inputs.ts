/**
 * Read finished `getok curate` and `getok offsets` output folders for export:
 * manifest.json (required: it names the grid, the token style and the shards)
 * and every shard it lists. Records are validated here, at the boundary, so
 * the conversation builder can trust them: fields present, grid as the
 * manifest says, token strings that parse at that grid. A shard whose bytes are
 * not those the manifest lists is read with a warning (shared/input-folders.ts).
 */
import {existsSync, statSync} from 'node:fs'
import * as path from 'node:path'
import {readJsonl} from '../../adapters/jsonl.js'
import {readUtf8File} from '../../adapters/text-file.js'
import type {CuratedObject, RefinementObject} from '../../core/export/conversations.js'
import {GetokError, type ErrorPlace, showValue} from '../../core/errors.js'
import type {Cell} from '../../core/grid/grid.js'
import {type TokenStyle, TOKEN_STYLES, TokenParseError, parseTokens} from '../../core/grid/tokens.js'
import type {Manifest} from '../shared/sharded-run.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {type Warn, warnIfChanged} from '../shared/input-folders.js'
import {canonicalConfig} from '../shared/run-settings.js'
import {curatedAnswer, curatedRule} from '../../core/decode/curated-answer.js'
import type {DecodeRule} from '../../core/decode/prompts.js'

export interface GetokFolder<R> {
  dir: string
  manifest: Manifest
  grid: number
  style: TokenStyle
  records: R[]
  /** images with at least one annotation the run skipped */
  imagesWithSkips: Set<number>
  /** the decode rule the manifest names (SPEC §8; none: union); every curate record has it */
  decode: DecodeRule
}

type Row = Record<string, unknown>

export interface ReadOptions {
  /** counts the shards read, noting the records so far */
  progress?: Progress
  /** told of each shard whose bytes are not those the manifest lists */
  warn?: Warn
}

export async function readCurateFolder(dir: string, options: ReadOptions = {}): Promise<GetokFolder<CuratedObject>> {
  return readFolder(dir, 'curate', toCuratedObject, options)
}

export async function readOffsetsFolder(dir: string, options: ReadOptions = {}): Promise<GetokFolder<RefinementObject>> {
  return readFolder(dir, 'offsets', toRefinementObject, options)
}

type Convert<R> = (r: Row, n: number, place: ErrorPlace, rule: DecodeRule) => R

async function readFolder<R>(
  dir: string,
  command: string,
  convert: Convert<R>,
  {progress = silentProgress, warn}: ReadOptions,
): Promise<GetokFolder<R>> {
  const manifest = await readManifest(dir, command)
  // a 0.4.0 curate folder spells token_style tokenStyle: read under today's names (run-settings.ts)
  const config = canonicalConfig(manifest.config ?? {})
  const grid = config.grid
  const file = path.join(dir, 'manifest.json')
  // a manifest made before the box rule names none: union
  const decode = curatedRule({decode: config.decode as DecodeRule | undefined}, {file, field: 'config.decode'})
  if (!Number.isInteger(grid) || (grid as number) < 2)
    throw new GetokError('manifest without a grid size', {file, field: 'config.grid'}, 'an integer ≥ 2', showValue(grid))
  const style = (config.token_style ?? 'plain') as TokenStyle
  if (!TOKEN_STYLES.includes(style))
    throw new GetokError('unknown token style', {file, field: 'config.token_style'}, TOKEN_STYLES.join(' or '), showValue(style))
  const records: R[] = []
  const shards = manifest.shards ?? []
  progress.start(shards.length, 0)
  for (const [k, shard] of shards.entries()) {
    const shardFile = path.join(dir, String(shard.file))
    if (!existsSync(shardFile)) throw new GetokError('a shard listed in manifest.json is missing', {file: shardFile})
    // hashed in the same read: an edited shard is read all the same, with a warning
    const rows = await readJsonl<Row>(shardFile, {bytes: (b) => warnIfChanged(shardFile, shard, b, command, warn)})
    rows.forEach(({value: row, line}) => {
      const place = {file: shardFile, record: `line ${line}`}
      if (row.grid !== grid)
        throw new GetokError(
          'record made at another grid size than its manifest says',
          {...place, field: 'grid'},
          String(grid),
          showValue(row.grid),
        )
      records.push(convert(row, grid as number, place, decode))
    })
    progress.tick(k + 1, `shards read (${records.length} ${command} records)`)
  }
  progress.end()
  const imagesWithSkips = new Set((manifest.skips ?? []).map((s) => s.image_id))
  return {dir, manifest, grid: grid as number, style, records, imagesWithSkips, decode}
}

async function readManifest(dir: string, command: string): Promise<Manifest> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new GetokError(`${command} folder not found`, {file: dir})
  const file = path.join(dir, 'manifest.json')
  if (!existsSync(file))
    throw new GetokError(
      `no manifest.json: not a finished getok ${command} output folder`,
      {file: dir},
      `the --out folder of a finished getok ${command} run`,
    )
  let manifest: Manifest
  try {
    manifest = JSON.parse(await readUtf8File(file)) as Manifest
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`manifest.json is not JSON (${(error as Error).message})`, {file})
  }
  if (manifest.command !== command)
    throw new GetokError(
      `not the output of getok ${command}`,
      {file, field: 'command'},
      JSON.stringify(command),
      showValue(manifest.command),
    )
  return manifest
}

function toCuratedObject(r: Row, n: number, place: ErrorPlace, folderRule: DecodeRule): CuratedObject {
  const rule = curatedRule({decode: r.decode as DecodeRule | undefined}, place)
  if (rule !== folderRule)
    throw new GetokError('record of another decode rule than its manifest names', {...place, field: 'decode'}, folderRule, rule)
  const points = r.points
  // the box rule may choose the box alone: zero points
  const least = rule === 'box' ? 0 : 1
  if (!Array.isArray(points) || points.length < least || !points.every((p) => isCell(p, n))) {
    const what = `a ${least ? 'non-empty ' : ''}list of [i, j] with 0 ≤ i, j < ${n}`
    throw new GetokError('bad points', {...place, field: 'points'}, what, showValue(points))
  }
  const object: CuratedObject = {
    image: stringField(r, 'image', place),
    imageId: integerField(r, 'image_id', place),
    annId: integerField(r, 'ann_id', place),
    category: stringField(r, 'category', place),
    points: points as Cell[],
    seg: tokenField(r, 'seg', n, place, 'seg'),
    box: tokenField(r, 'box', n, place, 'box'),
    iou: numberField(r, 'iou', place),
    // records written before 0.4.0 have no pointing answer: export falls back to the curated points
    ...(r.point === undefined ? {} : {point: tokenField(r, 'point', n, place, 'point')}),
  }
  if (rule === 'union') return object
  // validates box_offsets: two corner moves, no <DELETE>
  curatedAnswer({points: object.points, box: object.box, decode: rule, box_offsets: r.box_offsets as string | undefined}, n, place)
  return {...object, decode: rule, boxOffsets: r.box_offsets as string}
}

function toRefinementObject(r: Row, n: number, place: ErrorPlace): RefinementObject {
  return {
    imageId: integerField(r, 'image_id', place),
    annId: integerField(r, 'ann_id', place),
    prev: tokenField(r, 'prev', n, place, 'seg'),
    target: tokenField(r, 'target', n, place, 'seg'),
  }
}

function isCell(p: unknown, n: number): boolean {
  return Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0 && v < n)
}

function stringField(r: Row, field: string, place: ErrorPlace): string {
  if (typeof r[field] !== 'string' || !(r[field] as string))
    throw new GetokError(`bad ${field}`, {...place, field}, 'a non-empty string', showValue(r[field]))
  return r[field] as string
}

function integerField(r: Row, field: string, place: ErrorPlace): number {
  if (!Number.isInteger(r[field])) throw new GetokError(`bad ${field}`, {...place, field}, 'an integer', showValue(r[field]))
  return r[field] as number
}

function numberField(r: Row, field: string, place: ErrorPlace): number {
  if (typeof r[field] !== 'number' || !Number.isFinite(r[field]))
    throw new GetokError(`bad ${field}`, {...place, field}, 'a number', showValue(r[field]))
  return r[field] as number
}

/** A token string that parses at grid n into exactly one group of the given kind. */
function tokenField(r: Row, field: string, n: number, place: ErrorPlace, kind: 'seg' | 'box' | 'point'): string {
  const text = stringField(r, field, place)
  try {
    const groups = parseTokens(text, n)
    if (groups.length !== 1 || groups[0].kind !== kind) {
      const what = kind === 'point' ? 'one grid token' : `one <${kind}> group`
      throw new Error(`expected ${what}, got ${groups.length} group(s)`)
    }
  } catch (error) {
    const message = error instanceof TokenParseError || error instanceof Error ? error.message : String(error)
    throw new GetokError(`token string does not parse: ${message}`, {...place, field})
  }
  return text
}
