/**
 * `getok export`'s flags for a trainer's predict run (kept apart from flags.ts, at its length limit):
 * data whose conversations end at the model's first answer, and the second run that follows its
 * answers with their refinement turn (core/export/predict.ts, docs/eval.md "Two predict runs").
 */
import {Flags} from '@oclif/core'

export const predictFlags = {
  predict: Flags.boolean({
    summary:
      "Write data for the trainer's predict run (swift infer, LLaMA-Factory do_predict), not for training: each conversation " +
      "ends at the model's first answer (the box rule's seg and multi without their box-offsets turn), records carry " +
      'id, image_id, ann_ids, split and task for getok eval, and --min-iou defaults to 0.',
    default: false,
  }),
  followup: Flags.string({
    summary:
      'Predictions of a --predict export (same inputs and flags): write the second run, each box-rule seg and multi ' +
      "conversation with the model's answer as context and its box-offsets turn to predict.",
    exclusive: ['predict'],
  }),
  reference: Flags.string({
    summary: "With --followup: the --predict data file LLaMA-Factory's generated_predictions.jsonl answers, line by line.",
    dependsOn: ['followup'],
  }),
}
