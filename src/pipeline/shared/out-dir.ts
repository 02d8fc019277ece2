/**
 * An output folder that belongs to one configuration. `run.json` is written
 * before the first shard; a rerun with another configuration, model or getok
 * version is refused (naming what differs) unless the caller overwrites. The
 * version counts because a release may change which points a strategy picks:
 * a resumed run must not mix two selections in one folder.
 */
import {existsSync} from 'node:fs'
import {mkdir, readFile, readdir, rm} from 'node:fs/promises'
import * as path from 'node:path'
import {GetokError} from '../../core/errors.js'
import {writeFileAtomic} from '../../adapters/shards.js'
import {TOOL} from '../../version.js'

export const RUN_FILE = 'run.json'

export async function claimRunDir(
  dir: string,
  name: string,
  runConfig: Record<string, unknown>,
  overwrite: boolean,
  version = TOOL.version,
): Promise<void> {
  const file = path.join(dir, RUN_FILE)
  const config: Record<string, unknown> = {tool_version: version, ...runConfig}
  if (existsSync(file)) {
    const before = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    const diff = Object.keys({...before, ...config}).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(config[k]))
    if (diff.length > 0 && !overwrite) {
      const shown = diff.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(config[k])}`).join('; ')
      const hint = diff.includes('shard_index')
        ? ' (each worker of a sharded run needs its own --out)'
        : diff.includes('tool_version')
          ? ' (another getok version may pick other points; finish the run with the version that began it)'
          : ''
      throw new GetokError(`output folder was made with a different configuration (${shown})${hint}; use another --out or --overwrite`, {
        file,
      })
    }
    if (diff.length > 0) await clearRunDir(dir, name)
  }
  await mkdir(dir, {recursive: true})
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n')
}

async function clearRunDir(dir: string, name: string): Promise<void> {
  for (const f of await readdir(dir)) {
    if (f.startsWith(`${name}-`) || f === 'manifest.json' || f === RUN_FILE) await rm(path.join(dir, f), {force: true})
  }
}
