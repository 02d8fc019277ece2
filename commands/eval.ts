import {Args} from '@oclif/core'
import {count, GetokCommand, reasonLines, resumedNote} from '../src/cli/base-command.js'
import {evalFlags, inputFlags, samFlags} from '../src/cli/flags.js'
import {workerFlags, workerSetting} from '../src/cli/worker-flags.js'
import {defaultBatch} from '../src/sam/devices.js'
import {defaultModelFiles} from '../src/sam/model-files.js'
import type {EvalRunSummary} from '../src/pipeline/eval/eval-run.js'
import {reasonKey} from '../src/core/stats.js'

export default class Eval extends GetokCommand {
  static interrupt = 'resume' as const
  static summary = "Score a trained model's answers with the decoding that made its training data: cIoU, gIoU, Acc@0.5."
  static description =
    'Reads ms-swift infer results, LLaMA-Factory generated_predictions.jsonl (with --reference) or plain JSONL; parses each answer ' +
    "(both token spellings), decodes it with SAM under the curated data's rule and policy, and scores it against the COCO objects it " +
    'refers to, before and after a refinement turn. Bad answers score 0 and are counted by reason. Writes eval.jsonl, summary.json ' +
    "and a table like the papers'; rerunning resumes. A trainer's predict run writes only the last turn: score the model's own " +
    'answers on getok export --predict data, and its box-offsets turn on --followup data (docs/eval.md "Two predict runs")."'
  static examples = [
    '<%= config.bin %> eval infer_result.jsonl -a instances_val2014.json -i train2014 -o out/eval --curated out/curated',
    '<%= config.bin %> eval generated_predictions.jsonl --reference out/lf/llamafactory-val.jsonl -a instances.json -i images -o out/eval',
    '<%= config.bin %> eval answers.jsonl --format plain -a instances.json -i images -o out/eval --decode box --grid 32 --json',
  ]
  static args = {
    predictions: Args.string({description: 'Predictions JSONL file.', required: true}),
  }
  static flags = {
    annotations: inputFlags.annotations,
    images: inputFlags.images,
    out: inputFlags.out,
    ...samFlags,
    ...evalFlags,
    'shard-size': inputFlags['shard-size'],
    strict: inputFlags.strict,
    overwrite: inputFlags.overwrite,
    ...workerFlags,
  }

  async run(): Promise<EvalRunSummary & {out: string; images: number; resumed: number; seconds: number; warnings?: string[]}> {
    const {args, flags} = await this.parse(Eval)
    const files = flags.encoder && flags.decoder ? {encoder: flags.encoder, decoder: flags.decoder} : defaultModelFiles()
    const sam = {files, device: flags.device, threads: flags.threads, quantizeDecoder: flags['quantize-decoder']}
    // loaded on run, so that listing or running other commands never loads onnxruntime or sharp
    const [{runEval}, {SamEngine}] = await Promise.all([import('../src/pipeline/eval/eval-run.js'), import('../src/sam/engine.js')])
    const result = await runEval({
      predictions: args.predictions,
      format: flags.format,
      reference: flags.reference,
      annotations: flags.annotations,
      images: flags.images,
      out: flags.out,
      decode: {curated: flags.curated, grid: flags.grid, rule: flags.decode, policy: flags['mask-policy'], flipV: flags['flip-v']},
      split: flags.split,
      shardSize: flags['shard-size'],
      batch: flags.batch ?? defaultBatch(flags.device),
      strict: flags.strict,
      overwrite: flags.overwrite,
      engine: () => SamEngine.load(sam),
      modelFiles: files,
      workers: workerSetting(flags.workers, flags.device, flags.threads, sam),
      progress: this.progress('eval'),
      warn: (line) => this.warning(line),
    })
    const s = result.summary
    const head = `${count(s.samples, 'sample')} on ${count(result.images, 'image')}${resumedNote(result)} in ${result.seconds.toFixed(1)} s`
    const stripped =
      // the model's own answers only: answers it was given were written by the data, tokens and all
      s.samples > s.answers_from_data && s.failure_reasons.no_tokens === s.samples - s.answers_from_data
        ? '\nno answer holds a GETok token: did the trainer decode with skip_special_tokens? (LLaMA-Factory: skip_special_tokens: false)'
        : ''
    const refined = s.refined ? `\nfailed refinements: ${s.refined.failed}${reasonLines(s.refined.failure_reasons)}` : ''
    const forced = Object.entries(s.inputs?.by_task ?? {})
      .filter(([task]) => task !== 'refine')
      .reduce((k, [, f]) => k + f.samples, 0)
    const teacherForced = forced
      ? `\n${count(forced, 'answer')} before refinement came from the data file, not the model (the trainer predicted only the ` +
        'last turn):\n  left out of the figures above; their refined figures measure the refinement alone.\n  For the ' +
        "model's own answers: getok export --predict, then --followup for the refinement turn (docs/eval.md)."
      : ''
    this.log(
      `${head} → ${result.out}/eval.jsonl\n` +
        `decoding: n = ${s.decode.grid}, rule ${s.decode.rule}, policy ${s.decode.policy} (${s.decode.source.rule})\n\n` +
        `${result.table}\n\n` +
        `failed answers: ${s.failed}${reasonLines(s.failure_reasons)}${refined}\n` +
        `not scored: ${count(s.unresolved.count, 'row')} not placed on an object${unresolvedLines(s.unresolved)}\n` +
        `skipped: ${count(s.skipped.count, 'sample')} of unreadable images${reasonLines(s.skipped.reasons)}${stripped}${teacherForced}`,
    )
    const {out, images, resumed, seconds, warnings} = result
    return {...s, out, images, resumed, seconds, ...(warnings ? {warnings} : {})}
  }
}

/** Each reason rows were not placed for, with the first lines that have it (summary.json lists up to 100). */
function unresolvedLines(u: EvalRunSummary['unresolved']): string {
  return reasonLines(u.reasons, (reason) => {
    const lines = u.lines.filter((l) => reasonKey(l.reason) === reason).map((l) => l.line)
    const shown = lines.slice(0, 5).join(', ') + (lines.length > 5 ? ', …' : '')
    return lines.length ? ` (line${lines.length === 1 ? '' : 's'} ${shown})` : ''
  })
}
