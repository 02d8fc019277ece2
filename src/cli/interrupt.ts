/**
 * Ctrl-C (SIGINT) and SIGTERM during a long-running command (curate, offsets, eval, export, merge,
 * inspect): the progress line is finished, one line says what of the run is kept, --json gets its
 * object on stdout, and the process exits at once with 128 + the signal's number (130, 143), as a
 * shell reports a process the signal ended. Nothing waits for the image or shard in hand: what getok
 * writes survives a kill -9 (adapters/shards: journalled units, files renamed into place), and the
 * worker processes are killed on the way out (pipeline/workers/pool: on the process's 'exit').
 *
 *   interrupted (SIGINT): 3 of 8 images finished are kept; rerun the same command to resume
 *   interrupted (SIGTERM): the output is incomplete (no file in it is half-written); rerun the same command
 *
 * `getok serve` handles its signals itself (it finishes the request in flight); `vocab` is done before a key is pressed.
 */
import {constants} from 'node:os'
import type {ProgressCount} from '../pipeline/shared/progress.js'

/** What an interrupted command keeps: `resume`: finished images (curate, offsets, eval); `rerun`: no half-written file. */
export type InterruptKind = 'resume' | 'rerun'

export interface InterruptWatch {
  kind: InterruptKind
  json: boolean
  /** the run's progress so far (undefined before it started counting images) */
  progress(): ProgressCount | undefined
  /** finish a progress line left on the terminal */
  breakLine(): void
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const
type Signal = (typeof SIGNALS)[number]

/** Handle SIGINT and SIGTERM as above until the returned function is called (the command's end). */
export function watchInterrupts(watch: InterruptWatch): () => void {
  const handlers = SIGNALS.map((signal) => {
    const handler = () => interrupted(watch, signal)
    process.on(signal, handler)
    return () => process.off(signal, handler)
  })
  return () => handlers.forEach((off) => off())
}

/** The line an interrupted run prints (and --json's message). */
export function interruptedText(kind: InterruptKind, signal: string, progress: ProgressCount | undefined): string {
  const head = `interrupted (${signal})`
  if (kind === 'rerun') return `${head}: the output is incomplete (no file in it is half-written); rerun the same command`
  if (!progress) return `${head} before any image was processed; rerun the same command to resume`
  const images = `${progress.total} image${progress.total === 1 ? '' : 's'}`
  return `${head}: ${progress.done} of ${images} finished are kept; rerun the same command to resume`
}

function interrupted(watch: InterruptWatch, signal: Signal): never {
  const exitCode = 128 + constants.signals[signal]
  const progress = watch.progress()
  const message = interruptedText(watch.kind, signal, progress)
  watch.breakLine()
  process.stderr.write(`${message}\n`)
  if (watch.json) {
    const kept = watch.kind === 'resume' && progress ? {finished: progress.done, total: progress.total} : {}
    const error = {message, exitCode, signal, ...kept}
    process.stdout.write(JSON.stringify({error, interrupted: true}, null, 2) + '\n')
  }
  // at once: 'exit' listeners stop the worker processes; files in hand are left as a kill would leave them
  process.exit(exitCode)
}
