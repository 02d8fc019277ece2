/** The fields every per-object record starts with (SPEC §6), built in one place for all commands. */
import type {CocoImage} from '../../adapters/coco.js'
import type {PreparedObject} from '../curate/curate-image.js'

export interface ObjectRecordHead {
  /** image path relative to the image root, as in the COCO file */
  image: string
  image_id: number
  ann_id: number
  category: string
  category_id: number
  width: number
  height: number
  iscrowd: boolean
  /** COCO's area, or the mask's pixel count where the file has none */
  area: number
  grid: number
}

export function objectRecordHead(
  image: CocoImage,
  {ann, area}: PreparedObject,
  categories: ReadonlyMap<number, string>,
  grid: number,
): ObjectRecordHead {
  return {
    image: image.fileName,
    image_id: image.id,
    ann_id: ann.id,
    category: categories.get(ann.categoryId) ?? String(ann.categoryId),
    category_id: ann.categoryId,
    width: image.width,
    height: image.height,
    iscrowd: ann.iscrowd,
    area,
    grid,
  }
}
