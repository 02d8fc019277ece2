/**
 * `npm run bench`: every measurement behind docs/, one after the other on the same machine, so
 * their figures and ratios come from one run.
 *
 *   npm run bench -- [--only curate,eval,serve,workers,batching,export] [--quick] [--device cpu]
 *
 * Sections (each is also a script of its own, with more flags; see its header):
 *   curate    scripts/bench.ts: stage timings, fast against exhaustive, the CPU graph rewrites
 *   eval      scripts/bench-eval.ts: samples/s of `getok eval` on real referring expressions
 *   serve     scripts/bench-serve.ts: requests/s and p50/p99 at 1, 8, 32 clients, cold and warm
 *   workers   scripts/bench-workers.ts: images/s for 1, 2, 4 worker processes, same bytes (3 passes
 *             over 48 images, median ratio: about 16 min on 2 cores)
 *   batching  scripts/bench-batching.ts: ms a prompt, per image against batched across images
 *   export    scripts/bench-export-run.ts: seconds, records/s and peak RSS of `getok export` (swift, llava)
 *             on synthetic curate folders of 50k, 200k and 400k records, and how the peak grows (no model)
 * --quick runs each on a few images (a few minutes in all on 2 cores) instead of the full sets.
 * A section whose script is not built is reported and skipped; a failing section fails the run.
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const {values: args} = parseArgs({
  options: {
    only: {type: 'string'},
    quick: {type: 'boolean', default: false},
    device: {type: 'string', default: 'cpu'},
  },
})

/** section → script and its arguments (full, quick) */
const SECTIONS: Record<string, {script: string; full: string[]; quick: string[]}> = {
  curate: {script: 'bench.js', full: [], quick: ['--limit', '5']},
  eval: {script: 'bench-eval.js', full: [], quick: []},
  serve: {script: 'bench-serve.js', full: [], quick: ['--limit', '3', '--requests', '24']},
  workers: {script: 'bench-workers.js', full: [], quick: ['--limit', '6', '--workers-list', '1,2', '--repeat', '1']},
  batching: {script: 'bench-batching.js', full: [], quick: []},
  export: {script: 'bench-export-run.js', full: [], quick: ['--sizes', '5000,20000']},
}

const here = path.dirname(fileURLToPath(import.meta.url))
const chosen = args.only ? args.only.split(',').map((s) => s.trim()) : Object.keys(SECTIONS)
const unknown = chosen.filter((s) => !(s in SECTIONS))
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')} in --only (known: ${Object.keys(SECTIONS).join(', ')})`)
  process.exit(2)
}

const ran: string[] = []
for (const name of chosen) {
  const {script, full, quick} = SECTIONS[name]
  const file = path.join(here, script)
  if (!existsSync(file)) {
    console.log(`\n## ${name}: ${script} is not built here; skipped`)
    continue
  }
  console.log(`\n## ${name} (${script})\n`)
  const started = Date.now()
  const run = spawnSync('node', [file, '--device', args.device, ...(args.quick ? quick : full)], {stdio: 'inherit'})
  if (run.status !== 0) {
    console.error(`bench: section ${name} failed (exit ${run.status ?? run.signal})`)
    process.exit(1)
  }
  ran.push(`${name} ${((Date.now() - started) / 1000).toFixed(0)} s`)
}
console.log(`\nbench: ${ran.join(', ')}`)
