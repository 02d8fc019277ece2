import {Args, Flags} from '@oclif/core'
import {GetokCommand} from '../src/cli/base-command.js'
import {intListFlag, samFlags} from '../src/cli/flags.js'
import {MASK_POLICIES} from '../src/core/selection/policy.js'
import {DECODE_RULES} from '../src/core/decode/prompts.js'
import type {SamEngine} from '../src/sam/engine.js'
import {defaultModelFiles} from '../src/sam/model-files.js'
import type {InspectResult} from '../src/pipeline/inspect/inspect-run.js'

export default class Inspect extends GetokCommand {
  static interrupt = 'rerun' as const
  static summary = 'Draw token sets as pictures: grid points, offsets, the decoded mask and the ground truth.'
  static description =
    'Red dots are grid tokens on their cell centres, blue arrows their offsets (a blue cross: <DELETE>, a blue ring: <OFF_0_0>), ' +
    'the green fill is the mask SAM decodes from the tokens (offsets applied, deletions dropped), the yellow line the ground truth. ' +
    'Reads curate or offsets records (decoded under the rule each names; the box rule also draws its prompt box in orange), ' +
    'a model answer given with --image and --tokens, or the samples of a getok eval run (--eval, e.g. the --worst 12). See docs/inspect.md.'
  static examples = [
    '<%= config.bin %> inspect out/val -a instances_val2017.json -i val2017 -o pics --worst 24 --sheet',
    '<%= config.bin %> inspect out/val/curate-00000-of-00008.jsonl -a instances.json -i images -o pics --ann-ids 48152',
    '<%= config.bin %> inspect --image photo.jpg --tokens "<seg><grid_4_6><grid_5_6></seg>" --offsets ' +
      '"<offset><seg><OFF_1_0><DELETE></seg></offset>" -o pics',
    '<%= config.bin %> inspect --eval out/eval -i val2017 -o pics --worst 12 --sheet',
  ]
  static args = {
    source: Args.string({description: 'Records to draw: a shard (.jsonl), a folder of shards, or a manifest.json.'}),
  }
  static flags = {
    annotations: Flags.string({
      char: 'a',
      summary: 'COCO instances JSON holding the ground truth (outline and IoU); without it pictures have no ground truth.',
    }),
    images: Flags.string({char: 'i', summary: "Image root folder the records' image paths are relative to."}),
    out: Flags.string({char: 'o', summary: 'Output folder for the PNGs (created if missing).', required: true}),
    size: Flags.integer({
      summary: 'Long side of each picture in pixels (the photo is scaled; marks and text keep their size).',
      default: 1024,
      min: 64,
      max: 8192,
    }),
    sheet: Flags.boolean({
      summary:
        'Lay the selected records on contact sheets instead of one PNG each: sheet.png, or sheet-000.png, sheet-001.png, … ' +
        'of --per-sheet pictures each when there are more.',
      default: false,
    }),
    columns: Flags.integer({summary: 'Contact sheet: pictures per row.', default: 4, min: 1}),
    thumb: Flags.integer({summary: 'Contact sheet: long side of each picture in pixels.', default: 360, min: 64, max: 4096}),
    'per-sheet': Flags.integer({
      summary: 'Contact sheet: at most N pictures a sheet (fewer when --thumb is so large that a sheet would pass 100 megapixels).',
      default: 64,
      min: 1,
    }),
    'image-ids': intListFlag('image-ids', 'Only records of these image ids (comma-separated).'),
    'ann-ids': intListFlag('ann-ids', 'Only records of these annotation ids (comma-separated).'),
    category: Flags.string({summary: 'Only records of these categories (comma-separated names or ids).'}),
    worst: Flags.integer({
      summary: 'The N records with the lowest iou field, worst first (--eval: lowest IoU, failed samples first).',
      min: 1,
      exclusive: ['best'],
    }),
    best: Flags.integer({summary: 'The N records with the highest iou field, best first.', min: 1, exclusive: ['worst']}),
    eval: Flags.string({
      summary:
        "Eval mode: an eval.jsonl of getok eval, or its folder; each sample drawn as eval decoded it (the run's rule, policy, grid), " +
        "with the ground truth, the IoU and a failed answer's reason. Annotations from the run's manifest unless -a; images need -i.",
      exclusive: ['image', 'tokens', 'offsets'],
    }),
    decode: Flags.option({
      options: DECODE_RULES,
      summary:
        "Eval mode: decode rule (default: the eval run's, from its manifest.json or summary.json). Answer mode: the rule of the data " +
        'the model learnt (default: box when every object has a <box> and a <seg>, else union).',
    })(),
    limit: Flags.integer({summary: 'At most N records, after the other selections.', min: 1}),
    image: Flags.string({summary: 'Answer mode: the photo the tokens refer to.', dependsOn: ['tokens'], exclusive: ['images']}),
    tokens: Flags.string({
      summary: 'Answer mode: grid tokens, e.g. "<seg><grid_4_6><grid_5_6></seg>" (either spelling; groups joined by ", ").',
      dependsOn: ['image'],
    }),
    offsets: Flags.string({
      summary: 'Answer mode: the offset round, "<offset><seg><OFF_1_0><DELETE></seg></offset>", one offset per grid token.',
      dependsOn: ['tokens'],
    }),
    grid: Flags.integer({char: 'n', summary: 'Answer mode: grid size n the tokens use.', default: 32, min: 2, max: 256}),
    'ann-id': Flags.integer({
      summary: 'Answer mode: the annotation (in --annotations) to outline and measure IoU against.',
      dependsOn: ['annotations', 'image'],
    }),
    'flip-v': Flags.boolean({summary: "Offsets use dv = +1 for up (default: the record's setting, else down).", allowNo: true}),
    'mask-policy': Flags.option({
      options: MASK_POLICIES,
      summary: "SAM mask per point when decoding: single or best (default: the record's policy, else single).",
    })(),
    palette: Flags.boolean({summary: 'Write 8-bit palette PNGs (several times smaller, slightly dithered).', default: false}),
    device: samFlags.device,
    encoder: samFlags.encoder,
    decoder: samFlags.decoder,
    threads: samFlags.threads,
    'quantize-decoder': samFlags['quantize-decoder'],
  }

  async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(Inspect)
    const files = flags.encoder && flags.decoder ? {encoder: flags.encoder, decoder: flags.decoder} : defaultModelFiles()
    // loaded on run, so that listing or running other commands never loads onnxruntime or sharp
    const [{runInspect}, {SamEngine}] = await Promise.all([
      import('../src/pipeline/inspect/inspect-run.js'),
      import('../src/sam/engine.js'),
    ])
    let engine: SamEngine | undefined
    const result = await runInspect({
      source: args.source,
      answer: flags.image
        ? {image: flags.image, tokens: flags.tokens!, offsets: flags.offsets, grid: flags.grid, annId: flags['ann-id']}
        : undefined,
      eval: flags.eval,
      rule: flags.decode,
      annotations: flags.annotations,
      images: flags.images,
      out: flags.out,
      filter: {
        imageIds: flags['image-ids'],
        annIds: flags['ann-ids'],
        categories: flags.category?.split(',').map((s) => s.trim()),
        worst: flags.worst,
        best: flags.best,
        limit: flags.limit,
      },
      sheet: flags.sheet ? {columns: flags.columns, thumb: flags.thumb, perSheet: flags['per-sheet']} : undefined,
      size: flags.size,
      policy: flags['mask-policy'],
      flipV: flags['flip-v'],
      palette: flags.palette,
      progress: this.progress('inspect'),
      warn: (line) => this.warning(line),
      engine: async () =>
        (engine = await SamEngine.load({files, device: flags.device, threads: flags.threads, quantizeDecoder: flags['quantize-decoder']})),
    }).finally(() => engine?.release())
    this.log(result.files.join('\n'))
    return result
  }
}
