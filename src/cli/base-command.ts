/**
 * What every getok command shares: --json (oclif prints the returned value), and one way to
 * report a user error: one line of text, no stack trace, exit 2. Our errors (GetokError and its
 * subclasses) print their own text; oclif's flag errors (unknown flag, missing flags, a value
 * outside an integer flag's range or a list of options) are reworded to the same shape:
 *
 *   --grid: bad value: expected an integer greater than or equal to 2, got 1
 *   --annotations, --out: required
 *
 * The line is printed as it is, never wrapped. With --json an error is also one JSON object on stdout
 * ({"error": {"message", …}}, for the script), exit 2 all the same.
 */
import {Command, Errors} from '@oclif/core'
import {GetokError} from '../core/errors.js'
import {type Progress, silentProgress, terminalProgress} from '../pipeline/shared/progress.js'

export abstract class GetokCommand extends Command {
  static enableJsonFlag = true

  protected progress(label: string): Progress {
    return !this.jsonEnabled() && process.stderr.isTTY ? terminalProgress(label) : silentProgress
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const text = error instanceof GetokError ? error.text : oclifFlagErrorText(error)
    if (text === undefined) return super.catch(error)
    // the line as written: oclif hard-wraps what it prints at 80 columns where stderr is no terminal
    // (CI logs, a pipe), breaking a long path in two; with --json oclif prints only the object (stdout)
    process.stderr.write(`Error: ${text}\n`)
    const shown = Object.assign(new Error(text), {exitCode: 2, oclif: {exit: 2}})
    return super.catch(this.jsonEnabled() ? shown : Object.assign(shown, {skipOclifErrorHandling: true}))
  }
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
