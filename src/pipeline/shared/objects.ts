/**
 * The objects of one image as every command sees them: ground-truth masks for its annotations
 * (bad or unwanted ones become skips with a reason), and the fields every per-object record
 * starts with (SPEC §6), built in one place for all commands.
 */
import {type CocoAnnotation, type CocoImage, annotationToMask} from '../../core/coco/records.js'
import type {BoxXywh} from '../../core/masks/box.js'
import {type Mask, maskArea, maskToBoxXywh} from '../../core/masks/mask.js'
import type {Skip} from '../../adapters/shards.js'

export interface PreparedObject {
  ann: CocoAnnotation
  mask: Mask
  /** COCO's area, or the mask's pixel count where the file has none */
  area: number
  /** COCO's [x, y, w, h], or the mask's tight box where the file has none */
  bbox: BoxXywh
}

export const CROWD_SKIP = 'crowd annotation (use --include-crowd)'

export function prepareObjects(
  image: CocoImage,
  anns: readonly CocoAnnotation[],
  includeCrowd: boolean,
): {objects: PreparedObject[]; skips: Skip[]} {
  const objects: PreparedObject[] = []
  const skips: Skip[] = []
  for (const ann of anns) {
    if (ann.iscrowd && !includeCrowd) {
      skips.push({image_id: image.id, ann_id: ann.id, reason: CROWD_SKIP})
      continue
    }
    try {
      const mask = annotationToMask(ann, image)
      objects.push({ann, mask, area: ann.area ?? maskArea(mask), bbox: ann.bbox ?? maskToBoxXywh(mask)!})
    } catch (error) {
      skips.push({image_id: image.id, ann_id: ann.id, reason: (error as Error).message})
    }
  }
  return {objects, skips}
}

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
