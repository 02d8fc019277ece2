/**
 * Which images a run covers, in a stable order (by image id, whatever the file's
 * order), and which annotations of each it keeps.
 */
import * as path from 'node:path'
import {GetokError} from '../core/errors.js'
import type {CocoAnnotation, CocoDataset, CocoImage} from '../adapters/coco.js'

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
      throw new GetokError(`unknown category ${JSON.stringify(name)}`, {file: data.file, field: 'categories'}, `one of ${[...data.categories.values()].slice(0, 8).join(', ')}…`)
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
    throw new GetokError('file_name escapes the image root', {file: annotationsFile, record: `image ${image.id}`, field: 'file_name'}, 'a path inside --images', image.fileName)
  }
  return full
}
