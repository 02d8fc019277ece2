/** The ground truth of a sample (from the COCO file, or given with it), and a scored sample as its eval.jsonl line. */
import {type CocoDataset, type CocoImage, annotationToMask, segmentationToRle} from '../../adapters/coco.js'
import {rleToMask} from '../../core/masks/rle.js'
import {maskToBoxXywh} from '../../core/masks/mask.js'
import type {EvalSample} from '../../core/eval/plan.js'
import {type GroundTruth, groundTruth} from '../../core/eval/score.js'
import type {EvalLine} from '../../core/eval/summary.js'
import type {Mask} from '../../core/masks/mask.js'
import type {ScoredItem} from './score-samples.js'

/** The annotations a unit's ground truth comes from: the whole file's, or (a worker) its one image's. */
export type ImageAnnotations = Pick<CocoDataset, 'annotationsByImage'>

/** Ground truth by referred annotation ids, each object's mask built once per image. */
export function groundTruthCache(data: ImageAnnotations, image: CocoImage): (annIds: readonly number[]) => GroundTruth {
  const anns = new Map((data.annotationsByImage.get(image.id) ?? []).map((a) => [a.id, a]))
  const masks = new Map<number, Mask>()
  const mask = (id: number) => masks.get(id) ?? masks.set(id, annotationToMask(anns.get(id)!, image)).get(id)!
  return (annIds) =>
    groundTruth(
      annIds.map(mask),
      annIds.map((id) => anns.get(id)!.bbox),
    )
}

/**
 * Ground truth a caller brings (the reward server's {"gt": {"segmentation", "width", "height"}}): any COCO
 * segmentation form; its box is the mask's tight box. Throws Error(reason) for geometry that makes no mask.
 */
export function groundTruthOfSegmentation(segmentation: unknown, width: number, height: number): GroundTruth {
  const mask = rleToMask(segmentationToRle(segmentation, {id: 0, fileName: '', width, height}))
  const box = maskToBoxXywh(mask)
  if (!box) throw new Error('the ground truth mask is empty')
  return groundTruth([mask], [box])
}

export function evalLine(line: number, image: CocoImage, grid: number, sample: EvalSample, {plan, score}: ScoredItem): EvalLine {
  const {task, refined, ...answer} = score
  return {
    line,
    image: image.fileName,
    grid,
    image_id: sample.image_id,
    ann_ids: sample.ann_ids,
    split: sample.split,
    task,
    answer: sample.answer,
    answer_from: sample.answer_from ?? 'model',
    ...(sample.refinement !== undefined ? {refinement: sample.refinement} : {}),
    objects: plan.answer.objects.map((o) => (o.box ? {box: o.box, cells: o.cells} : {cells: o.cells})),
    ...answer,
    ...(refined ? {refined} : {}),
  }
}
