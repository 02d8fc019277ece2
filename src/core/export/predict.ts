/**
 * Conversations for a trainer's predict run (`getok export --predict`, `--followup`). ms-swift's
 * `infer` and LLaMA-Factory's `do_predict` write only the last assistant turn and take every earlier
 * one from the data file, so a conversation meant for prediction must end at the first answer the
 * model is to write itself:
 *
 *   box-rule seg, multi   turn 1 only: the model writes the box and the points. Their box-offsets
 *                         turn needs that answer: a second run (asFollowUp) on the model's answers,
 *                         "Please segment the cat." → <model's answer> / "Please refine the box
 *                         corners …" → the record's box_offsets
 *   refine                unchanged: its first answer is context by design (the simulated prediction)
 *   seg, box, point       unchanged: one turn
 *
 * Each record carries getok's ids (predictFields), so that `getok eval` places it without matching
 * reference answers, and a follow-up finds the answer of its conversation by id.
 */
import type {Conversation} from './conversations.js'

/** A conversation whose answer is followed by a turn that needs it: the box rule's seg and multi. */
export function continues(c: Conversation): boolean {
  return (c.task === 'seg' || c.task === 'multi') && c.turns.length > 1 && c.turns[0].train
}

/** The conversation as a predict run gets it: ended at the model's first answer where another turn needs it. */
export function forPrediction(c: Conversation): Conversation {
  return continues(c) ? {...c, turns: c.turns.slice(0, 1)} : c
}

/**
 * The second run: a continuing conversation with the model's answer (by conversation id) in place of
 * its first answer, as context; the turn after it stays the target. Undefined: no follow-up (it does
 * not continue, or the predictions hold no answer to it).
 */
export function asFollowUp(c: Conversation, answers: ReadonlyMap<string, string>): Conversation | undefined {
  const answer = continues(c) ? answers.get(c.id) : undefined
  return answer === undefined ? undefined : {...c, turns: [{...c.turns[0], assistant: answer, train: false}, ...c.turns.slice(1)]}
}

/**
 * A model's raw answer as context for its next turn: chat-template markers a trainer left in
 * (`<|im_end|>`) dropped, since the template adds its own.
 */
export function answerAsContext(text: string): string {
  return text.replace(/<\|[A-Za-z0-9_]+\|>/g, '').trim()
}

/** The fields a predict record carries beside the trainer's own (eval reads them; trainers ignore them). */
export function predictFields(c: Conversation, followUp: boolean): Record<string, unknown> {
  return {
    id: c.id,
    image_id: c.imageId,
    ann_ids: c.annIds,
    split: c.split,
    task: c.task,
    ...(followUp ? {answer_from: 'model'} : {}),
  }
}

/** What to run on predict data, per trainer (printed and kept in the manifest with the training hints). */
export function predictHints(format: string, files: readonly {file: string; split: string}[], out: string, next: boolean): string[] {
  const at = (f: string) => `${out.replace(/\/+$/, '')}/${f}`
  const data = files.length ? files.map((f) => at(f.file)).join(' ') : '<data file>'
  const reference = `--reference ${files.length ? at(files[0].file) : '<data file>'}`
  const swift = format === 'swift'
  const run = swift
    ? [`swift infer --model <checkpoint> --val_dataset ${data} --result_path result.jsonl`]
    : format === 'llamafactory'
      ? [
          `do_predict: true  predict_with_generate: true  eval_dataset: ${files.map((f) => `getok_${f.split}`).join(',')}`,
          'skip_special_tokens: false (else the GETok tokens are cut from the answers)',
        ]
      : [`${format} has no predict file: write one {"predict": <answer>} line per record of ${data}, in order`]
  const predictions = swift ? 'result.jsonl' : 'generated_predictions.jsonl'
  const nextRun =
    `box-rule seg and multi answers continue with their box-offsets turn: getok export <these flags> --followup ${predictions}` +
    `${swift ? '' : ` ${reference}`} -o <folder>, predict on that, and getok eval those predictions for the refined figures`
  return [...run, `getok eval ${predictions} ${reference} -a <annotations> -i <images> -o <eval folder>`, ...(next ? [nextRun] : [])]
}
