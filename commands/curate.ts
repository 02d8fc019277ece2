import {count, GetokCommand, reasonLines, resumedNote} from '../src/cli/base-command.js'
import {curateFlags, inputFlags, parseUnit, samFlags, shareFlags} from '../src/cli/flags.js'
import {crossImageFlags, crossImageSetting, workerFlags, workerSetting} from '../src/cli/worker-flags.js'
import {defaultBatch} from '../src/sam/devices.js'
import {defaultModelFiles} from '../src/sam/model-files.js'
import type {CurateRunResult} from '../src/pipeline/curate/curate-run.js'
import {workerShare} from '../src/pipeline/shared/select-images.js'

export default class Curate extends GetokCommand {
  static interrupt = 'resume' as const
  static summary = 'Turn COCO instance annotations into minimal grid-token sets with SAM.'
  static description =
    'For every object, the greedy IoU-gain selector picks the fewest grid points that, decoded under --decode ' +
    '(box by default: one SAM prompt of the box and the points; union: one mask a point, united), reach IoU ≥ τ ' +
    'with the ground truth. ' +
    'Writes JSONL shards and manifest.json; rerunning the same command resumes an interrupted run.'
  static examples = [
    '<%= config.bin %> curate -a instances_val2017.json -i val2017 -o out/val',
    '<%= config.bin %> curate -a instances.json -i images -o out --grid 16 --tau 0.9 --limit 10 --json',
    '<%= config.bin %> curate -a instances_train2017.json -i train2017 -o out/w3 --shard-index 3 --shard-count 16',
    '<%= config.bin %> curate -a instances_val2017.json -i val2017 -o out/val --workers 2 --threads 2',
  ]
  static flags = {...inputFlags, ...samFlags, ...curateFlags, ...shareFlags, ...workerFlags, ...crossImageFlags}

  async run(): Promise<CurateRunResult> {
    const {flags} = await this.parse(Curate)
    const files = flags.encoder && flags.decoder ? {encoder: flags.encoder, decoder: flags.decoder} : defaultModelFiles()
    const sam = {files, device: flags.device, threads: flags.threads, quantizeDecoder: flags['quantize-decoder']}
    const crossImage = crossImageSetting(flags['cross-image'], flags.workers, flags.device)
    // loaded on run, so that listing or running other commands never loads onnxruntime or sharp
    const [{runCurate}, {SamEngine}] = await Promise.all([import('../src/pipeline/curate/curate-run.js'), import('../src/sam/engine.js')])
    const result = await runCurate({
      annotations: flags.annotations,
      images: flags.images,
      out: flags.out,
      filter: {limit: flags.limit, imageIds: flags['image-ids'], categories: flags.categories?.split(',').map((s) => s.trim())},
      options: {
        grid: flags.grid,
        tau: parseUnit('tau', flags.tau, 0, 1),
        epsilon: parseUnit('epsilon', flags.epsilon, -1, 1),
        maxTokens: flags['max-tokens'],
        policy: flags['mask-policy'],
        candidates: flags.candidates,
        margin: flags.margin,
        includeCrowd: flags['include-crowd'],
        tokenStyle: flags['token-style'],
        batch: flags.batch ?? defaultBatch(flags.device),
        decode: flags.decode,
      },
      shardSize: flags['shard-size'],
      strict: flags.strict,
      overwrite: flags.overwrite,
      share: workerShare(flags['shard-index'], flags['shard-count']),
      engine: () => SamEngine.load(sam),
      modelFiles: files,
      // cross-image batching runs in one process
      workers: workerSetting(flags.workers, flags.device, flags.threads, sam, crossImage),
      crossImage,
      progress: this.progress('curate'),
    })
    const s = result.summary
    this.log(
      `${count(s.records, 'record')} from ${count(result.images, 'image')}${resumedNote(result)} ` +
        `in ${result.seconds.toFixed(1)} s → ${result.out}\n` +
        `tokens per mask: mean ${s.mean_tokens}, median ${s.median_tokens}; ` +
        `mean IoU ${s.mean_iou}; reached τ: ${(100 * s.reached_share).toFixed(1)}%\n` +
        `skipped objects: ${s.skipped}${reasonLines(s.skip_reasons)}`,
    )
    return result
  }
}
