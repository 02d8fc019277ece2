/**
 * How eval decodes: the grid, decode rule, mask policy and offset sign of the curated data, so
 * answers become masks exactly as the training data was made (SPEC §8). In order, later winning:
 *   1. defaults: curate's (n = 32, rule box, policy single), dv = +1 down
 *   2. the export folder's manifest.json beside --reference (its grid; the curate and offsets folders it names)
 *   3. --curated: that curate folder's manifest (grid, policy, decode rule; no rule means union)
 *   4. flags: --grid, --decode, --mask-policy, --flip-v
 * `source` says where each setting came from; it goes into summary.json. A curate shard edited since its
 * manifest was written is read with a warning (`warn`, shared/input-folders.ts).
 */
import {existsSync} from 'node:fs'
import * as path from 'node:path'
import {DECODE_RULES, DEFAULT_DECODE_RULE, type DecodeRule} from '../../core/decode/prompts.js'
import {readUtf8File} from '../../adapters/text-file.js'
import {GetokError, showValue} from '../../core/errors.js'
import type {CuratedObject} from '../../core/export/conversations.js'
import type {EvalSettings} from '../../core/eval/plan.js'
import {MASK_POLICIES, type MaskPolicy} from '../../core/selection/policy.js'
import {readCurateFolder} from '../export/export-inputs.js'
import {type Warn, refuseFoldersBeingWritten} from '../shared/input-folders.js'

export interface SettingsInput {
  curated?: string
  reference?: string
  grid?: number
  rule?: DecodeRule
  policy?: MaskPolicy
  flipV?: boolean
}

export interface DecodeSettings {
  settings: EvalSettings
  policy: MaskPolicy
  /** setting → where it came from */
  source: Record<'grid' | 'rule' | 'policy' | 'flip_v', string>
  /** curated records by image id, when a curate folder was found */
  curated: Map<number, CuratedObject[]> | null
}

type Config = Record<string, unknown>

export async function decodeSettings(input: SettingsInput, warn?: Warn): Promise<DecodeSettings> {
  const out: DecodeSettings = {
    settings: {n: 32, rule: DEFAULT_DECODE_RULE, flipV: false},
    policy: 'single',
    source: {grid: 'default', rule: 'default', policy: 'default', flip_v: 'default'},
    curated: null,
  }
  let curatedDir = input.curated
  const exported = input.reference ? await manifestConfig(path.join(path.dirname(input.reference), 'manifest.json'), 'export') : null
  if (exported) {
    const where = `export manifest (${path.dirname(input.reference!)})`
    apply(out, exported, where)
    curatedDir ??= typeof exported.curated === 'string' && existsSync(exported.curated) ? exported.curated : undefined
    const offsets =
      typeof exported.offsets === 'string' ? await manifestConfig(path.join(exported.offsets, 'manifest.json'), 'offsets') : null
    if (offsets && typeof offsets.flip_v === 'boolean') set(out, 'flip_v', offsets.flip_v, `offsets manifest (${exported.offsets})`)
  }
  if (curatedDir) {
    // --curated and --reference were checked by eval and serve before anything was read; the folder the export names, here
    if (input.curated === undefined) await refuseFoldersBeingWritten([{path: curatedDir}])
    const folder = await readCurateFolder(curatedDir, {warn})
    apply(out, folder.manifest.config ?? {}, `curate manifest (${curatedDir})`)
    // curate writes its options, the rule among them, into the config; a folder made before rules existed used union
    if (!('decode' in (folder.manifest.config ?? {}))) set(out, 'rule', 'union', `curate manifest (${curatedDir}, no rule: union)`)
    out.curated = new Map()
    for (const r of folder.records) out.curated.set(r.imageId, [...(out.curated.get(r.imageId) ?? []), r])
  }
  if (input.grid !== undefined) set(out, 'grid', input.grid, '--grid')
  if (input.rule !== undefined) set(out, 'rule', input.rule, '--decode')
  if (input.policy !== undefined) set(out, 'policy', input.policy, '--mask-policy')
  if (input.flipV !== undefined) set(out, 'flip_v', input.flipV, '--flip-v')
  return out
}

/** A manifest's config when the file exists and is the named command's; null when it does not exist. */
async function manifestConfig(file: string, command: string): Promise<Config | null> {
  if (!existsSync(file)) return null
  let manifest: {command?: unknown; config?: Config}
  try {
    manifest = JSON.parse(await readUtf8File(file))
  } catch (error) {
    if (error instanceof GetokError) throw error // not UTF-8: already names the place
    throw new GetokError(`manifest.json is not JSON (${(error as Error).message})`, {file})
  }
  return manifest.command === command ? (manifest.config ?? {}) : null
}

/** Grid, rule and policy where a manifest's config names them. */
function apply(out: DecodeSettings, config: Config, where: string): void {
  if (Number.isInteger(config.grid)) set(out, 'grid', config.grid as number, where)
  const rule = config.decode ?? config.decode_rule
  if (rule !== undefined) {
    if (!(DECODE_RULES as readonly unknown[]).includes(rule))
      throw new GetokError('unknown decode rule', {file: where, field: 'config.decode'}, DECODE_RULES.join(' or '), showValue(rule))
    set(out, 'rule', rule as DecodeRule, where)
  }
  const policy = config.policy ?? config.mask_policy
  if (policy !== undefined) {
    if (!(MASK_POLICIES as readonly unknown[]).includes(policy))
      throw new GetokError('unknown mask policy', {file: where, field: 'config.policy'}, MASK_POLICIES.join(' or '), showValue(policy))
    set(out, 'policy', policy as MaskPolicy, where)
  }
}

function set(out: DecodeSettings, key: keyof DecodeSettings['source'], value: number | string | boolean, where: string): void {
  if (key === 'grid') out.settings.n = value as number
  else if (key === 'rule') out.settings.rule = value as DecodeRule
  else if (key === 'policy') out.policy = value as MaskPolicy
  else out.settings.flipV = value as boolean
  out.source[key] = where
}
