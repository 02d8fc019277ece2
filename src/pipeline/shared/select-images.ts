/**
 * Which images a run covers, in a stable order (by image id, whatever the file's
 * order), and which annotations of each it keeps; and which of them one worker
 * of several takes (`--shard-index i --shard-count N`).
 *
 * Worker shares: image id → FNV-1a 32-bit hash of its decimal digits, mod N.
 *   imageShare(139, 4) = fnv1a("139") % 4
 * The share depends on the id alone, so it is stable under any reordering of
 * the annotations file and under adding or removing other images; the N shares
 * are disjoint and together cover every image. Filters (--image-ids,
 * --categories, --limit) apply first, to the whole file, identically in every
 * worker.
 */
import * as path from 'node:path'
import {FlagError, GetokError} from '../../core/errors.js'
import type {CocoAnnotation, CocoDataset, CocoImage} from '../../adapters/coco.js'

export interface ImageFilter {
  imageIds?: number[]
  /** category names or ids */
  categories?: string[]
  /** first N images after filtering */
  limit?: number
}

export interface WorkItem {
  image: CocoImage
  anns: CocoAnnotation[]
}

export function selectImages(data: CocoDataset, filter: ImageFilter): WorkItem[] {
  const wanted = filter.categories && resolveCategories(data, filter.categories)
  const ids = filter.imageIds ? new Set(filter.imageIds) : null
  if (ids) {
    const unknown = [...ids].filter((id) => !data.images.has(id))
    if (unknown.length > 0) throw new GetokError(`no image with id ${unknown.join(', ')}`, {file: data.file, field: 'images'})
  }
  const items: WorkItem[] = []
  for (const image of [...data.images.values()].sort((a, b) => a.id - b.id)) {
    if (ids && !ids.has(image.id)) continue
    let anns = data.annotationsByImage.get(image.id) ?? []
    if (wanted) anns = anns.filter((a) => wanted.has(a.categoryId))
    if (wanted && anns.length === 0) continue
    items.push({image, anns})
    if (filter.limit !== undefined && items.length >= filter.limit) break
  }
  return items
}

function resolveCategories(data: CocoDataset, names: string[]): Set<number> {
  const out = new Set<number>()
  for (const name of names) {
    const byId = Number(name)
    const match = [...data.categories].filter(([id, n]) => n === name || (Number.isInteger(byId) && id === byId))
    if (match.length === 0) {
      throw new GetokError(
        `unknown category ${JSON.stringify(name)}`,
        {file: data.file, field: 'categories'},
        `one of ${[...data.categories.values()].slice(0, 8).join(', ')}…`,
      )
    }
    for (const [id] of match) out.add(id)
  }
  return out
}

/** Image path under the image root; a file name that escapes the root is refused. */
export function resolveImagePath(root: string, image: CocoImage, annotationsFile: string): string {
  const full = path.resolve(root, image.fileName)
  const rel = path.relative(path.resolve(root), full)
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new GetokError(
      'file_name escapes the image root',
      {file: annotationsFile, record: `image ${image.id}`, field: 'file_name'},
      'a path inside --images',
      image.fileName,
    )
  }
  return full
}

/** One worker's part of a run: worker `index` of `count` (0 ≤ index < count). */
export interface WorkerShare {
  index: number
  count: number
}

export const WHOLE_RUN: WorkerShare = {index: 0, count: 1}

/** Validate --shard-index / --shard-count. */
export function workerShare(index: number, count: number): WorkerShare {
  if (!Number.isInteger(count) || count < 1) throw new FlagError('shard-count', 'bad worker count', 'an integer ≥ 1', String(count))
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new FlagError('shard-index', 'bad worker index', `an integer from 0 to ${count - 1} (--shard-count ${count})`, String(index))
  }
  return {index, count}
}

/** The worker (0 … count−1) an image id belongs to: FNV-1a of the id's decimal digits, mod count. NaN ids go to a worker too. */
export function imageShare(imageId: number, count: number): number {
  let hash = 0x811c9dc5
  for (const ch of String(imageId)) {
    hash ^= ch.charCodeAt(0)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % count
}

export function isInShare(imageId: number, share: WorkerShare): boolean {
  return share.count === 1 || imageShare(imageId, share.count) === share.index
}

/** The items of one worker, order kept. Use the same function for anything keyed by image id (orphans too). */
export function takeShare<T extends {image: CocoImage}>(items: readonly T[], share: WorkerShare): T[] {
  return items.filter((it) => isInShare(it.image.id, share))
}

/** Shard file prefix of a worker: "curate" alone, "curate-w003" for worker 3 of several, so workers' files never collide. */
export function workerRunName(name: string, share: WorkerShare): string {
  return share.count === 1 ? name : `${name}-w${String(share.index).padStart(Math.max(3, String(share.count - 1).length), '0')}`
}

/**
 * The reader's skipped annotations that this worker reports (each by the one
 * worker its image id belongs to); with `strict` the first one stops the run.
 */
export function orphansOfShare(data: CocoDataset, share: WorkerShare, strict: boolean): CocoDataset['orphans'] {
  const orphans = data.orphans.filter((o) => isInShare(o.ann.imageId, share))
  if (strict && orphans.length > 0) {
    const {ann, reason} = orphans[0]
    throw new GetokError(reason, {file: data.file, record: `annotation ${ann.id}`})
  }
  return orphans
}
