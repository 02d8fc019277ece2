/**
 * `getok offsets --curated`: each offsets record also carries the curate record's grid tokens for
 * its object, joined by annotation id (and checked to be the same image), and the curate record's
 * decode rule as `decode` where it names one (SPEC §8; a record without one stays without).
 *
 * Under the box rule the box targets are the curate record's `box_offsets`: by SPEC §8 they are
 * the moves offsets computes for the box (curationBox calls boxCornerTargets), so with the default
 * --ties and no --flip-v they agree; where they do not (an exact tie under --ties moves, a tie
 * under --flip-v) the curate record's corners win, so that refining the box lands on the box the
 * record's mask was made with, and the record says so with `box_from_curated: true`.
 */
import {readdir} from 'node:fs/promises'
import * as path from 'node:path'
import {createHash} from 'node:crypto'
import {createReadStream, existsSync, statSync} from 'node:fs'
import type {Cell, Move} from '../../core/grid/grid.js'
import {GetokError, type ErrorPlace} from '../../core/errors.js'
import {type TokenStyle, boxToTokens, cellsToSegTokens, offsetsToTokens} from '../../core/grid/tokens.js'
import {curatedAnswer, curatedRule} from '../../core/decode/curated-answer.js'
import type {DecodeRule} from '../../core/decode/prompts.js'
import {readJsonl} from '../../adapters/jsonl.js'
import type {OffsetsRecord} from './offsets-object.js'
import {type ShardBytes, type Warn, checkAgainstManifest} from '../shared/input-folders.js'

/** A curate record as far as the join needs it. */
export interface CuratedEntry {
  imageId: number
  points: Cell[]
  /** the record's rule, where it names one */
  decode?: DecodeRule
  /** box rule: the box corner cells and their moves, dv = +1 down as curate writes them */
  box?: {cells: [Cell, Cell]; moves: [Move, Move]}
}

export function joinCurated(record: OffsetsRecord, curated: Map<number, CuratedEntry>, style: TokenStyle): OffsetsRecord {
  const entry = curated.get(record.ann_id)
  const found = entry !== undefined && entry.imageId === record.image_id
  const joined: OffsetsRecord = {
    ...record,
    curated_points: found ? entry.points : null,
    curated_seg: found ? cellsToSegTokens(entry.points, record.grid, style) : null,
  }
  if (!found || entry.decode === undefined) return joined
  return entry.box ? withCuratedBox({...joined, decode: entry.decode}, entry.box, style) : {...joined, decode: entry.decode}
}

/** The box targets of a box-rule record: the curate record's corners and moves (in this run's dv sign). */
function withCuratedBox(record: OffsetsRecord, box: NonNullable<CuratedEntry['box']>, style: TokenStyle): OffsetsRecord {
  const sign = ([du, dv]: Move): Move => [du, record.flip_v && dv !== 0 ? -dv : dv]
  const moves: [Move, Move] = [sign(box.moves[0]), sign(box.moves[1])]
  const prev = boxToTokens(box.cells[0], box.cells[1], style)
  const same = prev === record.box_prev && moves.every((m, k) => m[0] === record.box_offsets[k][0] && m[1] === record.box_offsets[k][1])
  if (same) return record
  return {...record, box_prev: prev, box_target: offsetsToTokens('box', moves, style), box_offsets: moves, box_from_curated: true}
}

const CURATE_SHARD = /^curate-\d{5}-of-\d{5}\.jsonl$/

/** Grid points of every finished curate record under dir, by annotation id. A record at another grid size is refused. */
export async function readCurated(dir: string, n: number): Promise<Map<number, CuratedEntry>> {
  const out = new Map<number, CuratedEntry>()
  for (const file of await curatedShards(dir)) {
    const rows = await readJsonl<Record<string, unknown>>(file)
    rows.forEach(({value: r, line}) => {
      const place = {file, record: `line ${line}`}
      if (!Number.isInteger(r.ann_id) || !Number.isInteger(r.image_id) || !Array.isArray(r.points)) {
        throw new GetokError('not a curate record', place, 'ann_id, image_id and points')
      }
      if (r.grid !== n)
        throw new GetokError('curated records were made at another grid size', {...place, field: 'grid'}, String(n), String(r.grid))
      if (!out.has(r.ann_id as number)) out.set(r.ann_id as number, curatedEntry(r, n, place))
    })
  }
  return out
}

/** The finished curate shards under dir, in name order: the order readCurated reads them in (the first record of an id wins). */
async function curatedShards(dir: string): Promise<string[]> {
  if (!isDirectory(dir)) throw new GetokError('curated folder not found', {file: dir})
  const files = (await readdir(dir)).filter((f) => CURATE_SHARD.test(f)).sort()
  if (files.length === 0)
    throw new GetokError('no finished curate shards in the curated folder', {file: dir}, 'curate-00000-of-0000N.jsonl files')
  return files.map((f) => path.join(dir, f))
}

/**
 * What the curated folder holds, for the run's configuration (`curated_sha256`): the sha256 of its
 * finished shards' bytes one after the other, in the order readCurated reads them. It names the
 * records, not the folder: the same records read through another path, or copied to another machine,
 * give the same hash; records added or changed give another. In the same read each shard is hashed
 * alone, and one the folder's manifest.json (where it has one) lists with other bytes is told to `warn`.
 */
export async function curatedSha256(dir: string, warn?: Warn): Promise<string> {
  const hash = createHash('sha256')
  const seen = new Map<string, ShardBytes>()
  for (const file of await curatedShards(dir)) {
    const own = createHash('sha256')
    let bytes = 0
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer)
      own.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    seen.set(path.basename(file), {bytes, sha256: own.digest('hex')})
  }
  if (warn) await checkAgainstManifest(dir, seen, warn)
  return hash.digest('hex')
}

function curatedEntry(r: Record<string, unknown>, n: number, place: ErrorPlace): CuratedEntry {
  const entry: CuratedEntry = {imageId: r.image_id as number, points: r.points as Cell[]}
  if (r.decode === undefined) return entry
  const decode = curatedRule({decode: r.decode as DecodeRule}, place)
  if (decode === 'union') return {...entry, decode}
  const {answer} = curatedAnswer(
    {points: entry.points, box: String(r.box), decode, box_offsets: r.box_offsets as string | undefined},
    n,
    place,
  )
  return {...entry, decode, box: {cells: [answer.box![0], answer.box![1]], moves: [answer.boxMoves![0], answer.boxMoves![1]]}}
}

function isDirectory(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory()
}
