/**
 * What every getok command shares: --json (oclif prints the returned value), and one way to
 * report an error: one line of text on stderr, never wrapped, no stack trace. Our errors (GetokError and
 * its subclasses) print their own text; oclif's flag errors (unknown flag, missing flags, a value
 * outside an integer flag's range or a list of options) are reworded to the same shape:
 *
 *   --grid: bad value: expected an integer greater than or equal to 2, got 1
 *   --annotations, --out: required
 *
 * Those are the user's to fix: exit 2. Anything else (a bug, a worker process that died, a disk
 * error no one turned into a GetokError) is its message on one line, exit 1; its stack trace follows
 * only with GETOK_DEBUG=1 (oclif's own switch) or DEBUG=getok. With --json an error is also one JSON
 * object on stdout ({"error": {"message", "exitCode", …}}, for the script), the exit code all the same.
 * A warning (a run goes on) is one line, `warning: …`, on stderr, and in the result's `warnings`.
 * The long-running commands (`static interrupt`) end on Ctrl-C and SIGTERM as interrupt.ts says.
 */
import {Command, Errors, settings} from '@oclif/core'
import {GetokError} from '../core/errors.js'
import {type Progress, type ProgressCount, countedProgress, silentProgress, terminalProgress} from '../pipeline/shared/progress.js'
import {type InterruptKind, watchInterrupts} from './interrupt.js'

export abstract class GetokCommand extends Command {
  static enableJsonFlag = true
  /** set by the long-running commands: what an interrupted run keeps (interrupt.ts); unset: Node's default (serve has its own) */
  static interrupt: InterruptKind | undefined

  private counted: (Progress & {count(): ProgressCount | undefined}) | undefined
  private unwatch: (() => void) | undefined

  protected progress(label: string): Progress {
    const shown = !this.jsonEnabled() && process.stderr.isTTY ? terminalProgress(label) : silentProgress
    this.counted = countedProgress(shown)
    return this.counted
  }

  /**
   * A warning as a run finds it (pipeline inputs' `warn`): `warning: …` on stderr, a progress line left on the
   * terminal finished first; the run's result carries it too (`warnings`, for --json).
   */
  protected warning(line: string): void {
    this.counted?.interrupt?.()
    process.stderr.write(`warning: ${line}\n`)
  }

  async init(): Promise<void> {
    await super.init()
    const kind = (this.constructor as typeof GetokCommand).interrupt
    if (kind === undefined) return
    this.unwatch = watchInterrupts({
      kind,
      json: this.jsonEnabled(),
      progress: () => this.counted?.count(),
      breakLine: () => this.counted?.interrupt?.(),
    })
  }

  async finally(error: Error | undefined): Promise<unknown> {
    this.unwatch?.()
    return super.finally(error)
  }

  protected async catch(error: Error & {exitCode?: number; code?: unknown}): Promise<unknown> {
    if (error instanceof Errors.ExitError) return super.catch(error)
    const userText = error instanceof GetokError ? error.text : oclifFlagErrorText(error)
    const text = userText ?? oneLine(error.message || String(error))
    const exit = userText === undefined ? 1 : 2
    // the line as written: oclif hard-wraps what it prints at 80 columns where stderr is no terminal
    // (CI logs, a pipe), breaking a long path in two; with --json oclif prints only the object (stdout)
    process.stderr.write(`Error: ${text}\n`)
    if (userText === undefined && debugging()) process.stderr.write(`${stackBelow(error)}\n`)
    // a system error's code (ENOSPC, EIO) stays in --json's object, for the script
    const code = userText === undefined && typeof error.code === 'string' ? {code: error.code} : {}
    const shown = Object.assign(new Error(text), {exitCode: exit, oclif: {exit}}, code)
    return super.catch(this.jsonEnabled() ? shown : Object.assign(shown, {skipOclifErrorHandling: true}))
  }
}

/** GETOK_DEBUG=1 (oclif sets settings.debug from it) or DEBUG naming getok (or *): stack traces of unexpected errors. */
export function debugging(): boolean {
  return Boolean(settings.debug) || /(^|[\s,])(getok\S*|\*)($|[\s,])/.test(process.env.DEBUG ?? '')
}

/** The stack trace under the line already printed (V8's stack begins with the name and message). */
function stackBelow(error: Error): string {
  const stack = error.stack ?? ''
  const head = `${error.name}: ${error.message}\n`
  return stack.startsWith(head) ? stack.slice(head.length) : stack
}

/** A message's lines joined into one (a worker's error arrives with its own lines). */
export function oneLine(message: string): string {
  return message.trim().replace(/\s*\n\s*/g, ' ')
}

// oclif colours parts of some messages; the codes would end up in logs and --json
const ANSI_COLOUR = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g')

/** oclif's parse errors in our shape, or undefined for anything else. */
export function oclifFlagErrorText(error: Error): string | undefined {
  const message = error.message.replace(/\nSee more help with --help[\s\S]*$/, '')
  const parsing = /^Parsing --([\w-]+) \n\t([\s\S]*)$/.exec(message)
  if (parsing) {
    const [, flag, inner] = parsing
    const range = /^Expected (an integer .*?) but received: (.*)$/.exec(inner)
    return range ? `--${flag}: bad value: expected ${range[1]}, got ${range[2]}` : `--${flag}: ${inner}`
  }
  if (!(error instanceof Errors.CLIError) || !('parse' in error)) return undefined
  const option = /^Expected --([\w-]+)=(.*) to be one of: (.*)$/.exec(message)
  if (option) return `--${option[1]}: bad value: expected one of ${option[3]}, got ${JSON.stringify(option[2])}`
  const unknown = /^Nonexistent flags?: (.*)$/.exec(message)
  if (unknown) return `${unknown[1]}: no such flag (see --help)`
  const listed = /^The following errors? occurred:\s*([\s\S]*)$/.exec(message.replace(ANSI_COLOUR, ''))
  if (listed) return listedErrorsText(listed[1])
  return message.replace(ANSI_COLOUR, '')
}

/** oclif's list of parse errors on one line: "--annotations, --out: required", other lines after it, by "; ". */
function listedErrorsText(list: string): string {
  const lines = list
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  const missing = lines.flatMap((l) => /^Missing required flag ([\w-]+)/.exec(l)?.[1] ?? [])
  const others = lines.filter((l) => !/^Missing required flag /.test(l))
  return [...(missing.length > 0 ? [`${missing.map((f) => `--${f}`).join(', ')}: required`] : []), ...others].join('; ')
}

/** `1 image`, `2 images`: summary lines read as English for any count. Nouns here take a plain `s`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** "\n  2 × no_mask\n  1 × crowd": a summary's reason counts, one indented line each, in the order given; `where` adds to a line. */
export function reasonLines(reasons: Record<string, number>, where: (reason: string) => string = () => ''): string {
  return Object.entries(reasons)
    .map(([reason, n]) => `\n  ${n} × ${reason}${where(reason)}`)
    .join('')
}

/** " (3 finished earlier, resumed)" when a rerun in the same folder skipped finished images, else "". */
export function resumedNote(result: {images: number; resumed: number}): string {
  if (result.resumed === 0) return ''
  return result.resumed === result.images ? ' (all finished earlier: nothing redone)' : ` (${result.resumed} finished earlier, resumed)`
}
