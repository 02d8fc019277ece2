/** The ground truth of a sample from the COCO file, and a scored sample as its eval.jsonl line. */
import {type CocoDataset, type CocoImage, annotationToMask} from '../../adapters/coco.js'
import type {EvalSample} from '../../core/eval/plan.js'
import {type GroundTruth, groundTruth} from '../../core/eval/score.js'
import type {EvalLine} from '../../core/eval/summary.js'
import type {Mask} from '../../core/masks/mask.js'
import type {ScoredItem} from './score-samples.js'

/** Ground truth by referred annotation ids, each object's mask built once per image. */
export function groundTruthCache(data: CocoDataset, image: CocoImage): (annIds: readonly number[]) => GroundTruth {
  const anns = new Map((data.annotationsByImage.get(image.id) ?? []).map((a) => [a.id, a]))
  const masks = new Map<number, Mask>()
  const mask = (id: number) => masks.get(id) ?? masks.set(id, annotationToMask(anns.get(id)!, image)).get(id)!
  return (annIds) =>
    groundTruth(
      annIds.map(mask),
      annIds.map((id) => anns.get(id)!.bbox),
    )
}

export function evalLine(line: number, sample: EvalSample, {plan, score}: ScoredItem): EvalLine {
  const {task, refined, ...answer} = score
  return {
    line,
    image_id: sample.image_id,
    ann_ids: sample.ann_ids,
    split: sample.split,
    task,
    answer: sample.answer,
    ...(sample.refinement !== undefined ? {refinement: sample.refinement} : {}),
    objects: plan.answer.objects.map((o) => (o.box ? {box: o.box, cells: o.cells} : {cells: o.cells})),
    ...answer,
    ...(refined ? {refined} : {}),
  }
}
