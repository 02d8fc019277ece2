/**
 * Which fields of a run's configuration may differ between runs whose records end up together: a resumed
 * run and the one that began its folder (out-dir.ts), or the inputs of a merge (merge/merge-checks.ts).
 * One list for both, so that what merge joins and what a folder resumes under never disagree.
 */

/**
 * Settings that cannot change a record's bytes: a resumed run may use another, merge inputs may differ.
 * `batch` is how many prompts share a decoder run, and a prompt's masks do not depend on its run
 * (bit-identical on the CPU; docs/scale.md).
 */
export const BYTES_FREE: readonly string[] = ['batch']

/**
 * Settings that only cut the records into files: merge copies each input's shards as cut, so its inputs
 * may differ; a resumed run may not, since its finished shards are named and filled by the folder's cut
 * (out-dir.ts refuses, naming the value to resume with).
 */
export const CUT: readonly string[] = ['shard_size']

/**
 * Paths kept for information, each with the field that says what the data there is: two runs that read
 * the same data through other paths (`out/cur` and `/abs/out/cur`, or a copy on another machine) agree.
 * Where a configuration lacks the identity (written before it was recorded), the path itself is compared.
 */
export const PATH_IDENTITY: Readonly<Record<string, string>> = {curated: 'curated_sha256', annotations: 'annotations_sha256'}

/**
 * Identity fields added after configurations were first written: absent from an older one, they are not compared.
 * `annotations_sha256` is the COCO file's bytes (curate and offsets record no path; eval records both).
 */
export const RECORDED_LATER: readonly string[] = [...new Set(Object.values(PATH_IDENTITY))]

/** Whether `key` is a path both configurations identify by its data instead: then the path is not compared. */
export function identifiedPath(key: string, ...configs: readonly Record<string, unknown>[]): boolean {
  if (!Object.hasOwn(PATH_IDENTITY, key)) return false
  return configs.every((c) => c[PATH_IDENTITY[key]] !== undefined)
}

/**
 * A field as a resume compares it: an input recorded with its hash (`{file, sha256}`: eval's predictions and
 * reference) is the same input wherever it lies now, so a run whose files were moved resumes; `file` is information.
 */
export function comparedValue(value: unknown): string | undefined {
  const hashed = typeof value === 'object' && value !== null && typeof (value as {sha256?: unknown}).sha256 === 'string'
  return JSON.stringify(hashed ? {...value, file: undefined} : value)
}

const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** `maxTokens` → `max_tokens`: configurations spell their fields as records do. */
export function snakeCaseKeys(options: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [snakeCase(k), v]))
}

/**
 * A configuration as it is compared and merged: getok ≤ 0.4.0 wrote curate's options in their code spelling
 * (`maxTokens`, `includeCrowd` beside `include_crowd`, `tokenStyle`), so such a folder's fields are read under
 * today's names, and it resumes and merges with folders begun since. Where both spellings were written, the
 * snake_case one stands.
 */
export function canonicalConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(config)) {
    const name = snakeCase(k)
    if (name === k || !Object.hasOwn(config, name)) out[name] = v
  }
  return out
}
