import {count, GetokCommand, reasonLines, resumedNote} from '../src/cli/base-command.js'
import {inputFlags, offsetsFlags, parseFlagWith, parseNonNegative, shareFlags} from '../src/cli/flags.js'
import {offsetsWorkerFlags} from '../src/cli/worker-flags.js'
import {workerShare} from '../src/pipeline/shared/select-images.js'
import {FlagError} from '../src/core/errors.js'
import {DEFAULT_K, type Quotas, parseQuotas, quotaTotal} from '../src/core/offsets/sampling.js'
import {type OffsetsRunResult, runOffsets} from '../src/pipeline/offsets/offsets-run.js'

export default class Offsets extends GetokCommand {
  static interrupt = 'resume' as const
  static summary = 'Build offset-refinement supervision (grid point → offset or DELETE) from COCO masks; no SAM needed.'
  static description =
    'Every grid point of an object is Inside, Ring, Hard-Delete or Far by its relation to the ' +
    'ground-truth mask at the offset step (half a cell); ' +
    'K grid–offset pairs per object are sampled with quotas and a seed and written as a previous ' +
    'prediction <seg>…</seg> and its target <offset><seg>…</seg></offset>. ' +
    'Writes JSONL shards and manifest.json; rerunning the same command resumes an interrupted run.'
  static examples = [
    '<%= config.bin %> offsets -a instances_val2017.json -i val2017 -o out/offsets',
    '<%= config.bin %> offsets -a instances.json -o out/off --k 24 --quota ring=0.5,inside=0.3,hard=0.1,far=0.1 --seed 7 --json',
    '<%= config.bin %> offsets -a instances.json -i images -o out/off --curated out/curate',
  ]
  static flags = {...inputFlags, ...offsetsFlags, ...shareFlags, ...offsetsWorkerFlags}

  async run(): Promise<OffsetsRunResult> {
    const {flags} = await this.parse(Offsets)
    const quotas = parseFlagWith('quota', () => parseQuotas(flags.quota))
    const result = await runOffsets({
      annotations: flags.annotations,
      images: flags.images,
      out: flags.out,
      curated: flags.curated,
      filter: {limit: flags.limit, imageIds: flags['image-ids'], categories: flags.categories?.split(',').map((s) => s.trim())},
      options: {
        grid: flags.grid,
        k: pairsPerObject(flags.k, quotas),
        quotas,
        hardBand: parseNonNegative('hard-band', flags['hard-band']),
        seed: flags.seed,
        flipV: flags['flip-v'],
        ties: flags.ties,
        tokenStyle: flags['token-style'],
        includeCrowd: flags['include-crowd'],
      },
      shardSize: flags['shard-size'],
      strict: flags.strict,
      overwrite: flags.overwrite,
      share: workerShare(flags['shard-index'], flags['shard-count']),
      // opt-in: ~20–40 ms an image, so start-up eats the gain on small runs (docs/scale.md)
      workers: flags.workers ?? 1,
      progress: this.progress('offsets'),
      warn: (line) => this.warning(line),
    })
    const s = result.summary
    const share = (c: Record<string, number>) =>
      Object.entries(c)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    this.log(
      `${count(s.records, 'record')} (${count(s.pairs, 'pair')}) from ${count(result.images, 'image')}${resumedNote(result)} ` +
        `in ${result.seconds.toFixed(1)} s → ${result.out}\n` +
        `sampled regions: ${share(s.regions)}\nall grid points: ${share(s.population)}\n` +
        `skipped objects: ${s.skipped}${reasonLines(s.skip_reasons)}`,
    )
    return result
  }
}

/** K from --k, or the sum of count quotas; both given and different is an error. */
function pairsPerObject(k: number | undefined, quotas: Quotas): number {
  if (quotas.mode === 'fractions') return k ?? DEFAULT_K
  const total = quotaTotal(quotas, 0)
  if (k !== undefined && k !== total) throw new FlagError('k', 'disagrees with the count quotas', `${total} (their sum)`, String(k))
  return total
}
