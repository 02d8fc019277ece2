/**
 * `getok offsets --curated`: each offsets record also carries the curate record's grid tokens for
 * its object, joined by annotation id (and checked to be the same image).
 */
import {readdir} from 'node:fs/promises'
import * as path from 'node:path'
import {existsSync, statSync} from 'node:fs'
import type {Cell} from '../../core/grid/grid.js'
import {GetokError} from '../../core/errors.js'
import {type TokenStyle, cellsToSegTokens} from '../../core/grid/tokens.js'
import {readJsonl} from '../../adapters/jsonl.js'
import type {OffsetsRecord} from './offsets-object.js'

/** A curate record as far as the join needs it. */
export interface CuratedEntry {
  imageId: number
  points: Cell[]
}

export function joinCurated(record: OffsetsRecord, curated: Map<number, CuratedEntry>, style: TokenStyle): OffsetsRecord {
  const entry = curated.get(record.ann_id)
  const found = entry !== undefined && entry.imageId === record.image_id
  return {
    ...record,
    curated_points: found ? entry.points : null,
    curated_seg: found ? cellsToSegTokens(entry.points, record.grid, style) : null,
  }
}

const CURATE_SHARD = /^curate-\d{5}-of-\d{5}\.jsonl$/

/** Grid points of every finished curate record under dir, by annotation id. A record at another grid size is refused. */
export async function readCurated(dir: string, n: number): Promise<Map<number, CuratedEntry>> {
  if (!isDirectory(dir)) throw new GetokError('curated folder not found', {file: dir})
  const files = (await readdir(dir)).filter((f) => CURATE_SHARD.test(f)).sort()
  if (files.length === 0)
    throw new GetokError('no finished curate shards in the curated folder', {file: dir}, 'curate-00000-of-0000N.jsonl files')
  const out = new Map<number, CuratedEntry>()
  for (const f of files) {
    const file = path.join(dir, f)
    const rows = await readJsonl<Record<string, unknown>>(file)
    rows.forEach(({value: r, line}) => {
      const place = {file, record: `line ${line}`}
      if (!Number.isInteger(r.ann_id) || !Number.isInteger(r.image_id) || !Array.isArray(r.points)) {
        throw new GetokError('not a curate record', place, 'ann_id, image_id and points')
      }
      if (r.grid !== n)
        throw new GetokError('curated records were made at another grid size', {...place, field: 'grid'}, String(n), String(r.grid))
      if (!out.has(r.ann_id as number)) out.set(r.ann_id as number, {imageId: r.image_id as number, points: r.points as Cell[]})
    })
  }
  return out
}

function isDirectory(dir: string): boolean {
  return existsSync(dir) && statSync(dir).isDirectory()
}
