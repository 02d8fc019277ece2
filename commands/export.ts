import {count, GetokCommand} from '../src/cli/base-command.js'
import {exportFlags, parseNonNegative} from '../src/cli/flags.js'
import {predictFlags} from '../src/cli/predict-flags.js'
import {TASKS, type TaskName} from '../src/core/export/conversations.js'
import {type ExportRunResult, runExport} from '../src/pipeline/export/export-run.js'

export default class Export extends GetokCommand {
  static interrupt = 'rerun' as const
  static summary = 'Turn curated tokens into training conversations for ms-swift, LLaMA-Factory, LLaVA or Qwen-VL fine-tuning.'
  static description =
    'Tasks: seg (expression → <seg>…</seg>), box (→ <box>…</box>), point (→ one grid token), refine ' +
    '(previous prediction → <offset>…</offset>, needs --offsets) and multi ("all the X" → several ' +
    'groups). ' +
    'Referring expressions come from a refs(*.p) pickle or a JSONL file, joined by annotation id; ' +
    'without them, category names, never for an ambiguous category. ' +
    'Writes one data file per split, the vocabulary, and manifest.json with counts per task and split. See docs/export.md.'
  static examples = [
    '<%= config.bin %> export --curated out/curated --format swift -o out/swift',
    '<%= config.bin %> export --curated out/curated --offsets out/offsets --refs "refcocog/refs(umd).p" --format llamafactory -o out/lf',
    '<%= config.bin %> export --curated out/curated --format llava --tasks seg,box --image-root /data/coco/train2014 -o out/llava --json',
    '<%= config.bin %> export --curated out/val-curated --refs "refcocog/refs(umd).p" --format swift --predict -o out/predict',
    '<%= config.bin %> export --curated out/val-curated --refs "refcocog/refs(umd).p" --format swift --followup result.jsonl -o out/next',
  ]
  static flags = {...exportFlags, ...predictFlags}

  async run(): Promise<ExportRunResult> {
    const {flags} = await this.parse(Export)
    const expressionFile = flags.refs ?? flags.expressions
    // eval scores against COCO, not the curated tokens: a predict run keeps every object (docs/eval.md)
    const forPrediction = flags.predict || flags.followup !== undefined
    const result = await runExport({
      curated: flags.curated,
      offsets: flags.offsets,
      format: flags.format,
      out: flags.out,
      expressions: expressionFile === undefined ? undefined : {file: expressionFile, source: flags.refs ? 'refs' : 'jsonl'},
      tasks: flags.tasks ?? defaultTasks(flags.offsets !== undefined),
      templates: flags.templates,
      imageRoot: flags['image-root'],
      refineForm: flags['refine-form'],
      minIou: parseNonNegative('min-iou', flags['min-iou'] ?? (forPrediction ? '0' : '0.5'), 1),
      defaultSplit: flags.split,
      tags: flags.tags,
      predict: flags.predict,
      followup: flags.followup === undefined ? undefined : {predictions: flags.followup, reference: flags.reference},
      progress: this.progress('export'),
      warn: (line) => this.warning(line),
    })
    const s = result.summary
    const counts = Object.entries(s.counts).map(
      ([task, bySplit]) =>
        `  ${task}: ${
          Object.entries(bySplit)
            .map(([sp, n]) => `${sp} ${n}`)
            .join(', ') || 'none'
        }`,
    )
    this.log(
      `${count(s.records, `${s.trainer.format} record`)} → ${result.out} ` +
        `(${result.files.map((f) => f.file).join(', ')})\n${counts.join('\n')}\n` +
        `expressions: ${s.expressions.source}, ${s.expressions.matched} used, ` +
        `${s.expressions.not_curated} not curated; skipped: ${s.skipped}\n` +
        `vocabulary: ${s.vocabulary.count} tokens → ${s.vocabulary.file}\n` +
        s.trainer.hints.map((h) => `  ${h}`).join('\n'),
    )
    return result
  }
}

function defaultTasks(withOffsets: boolean): TaskName[] {
  return TASKS.filter((t) => t !== 'refine' || withOffsets)
}
