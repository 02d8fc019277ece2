/**
 * What every getok command shares: --json (oclif prints the returned value),
 * and one way to report a user error: the message, no stack trace, exit 2.
 */
import {Command} from '@oclif/core'
import {GetokError} from '../core/errors.js'
import {TokenParseError} from '../core/grid/tokens.js'
import {type Progress, silentProgress, terminalProgress} from '../pipeline/shared/progress.js'

export abstract class GetokCommand extends Command {
  static enableJsonFlag = true

  protected progress(label: string): Progress {
    return !this.jsonEnabled() && process.stderr.isTTY ? terminalProgress(label) : silentProgress
  }

  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (error instanceof GetokError || error instanceof TokenParseError) {
      // Stays on stderr (and in the --json error object), exits non-zero.
      return super.catch(Object.assign(new Error(error.message), {exitCode: 2, oclif: {exit: 2}}))
    }
    return super.catch(error)
  }
}

/** " (3 finished earlier, resumed)" when a rerun in the same folder skipped finished images, else "". */
export function resumedNote(result: {images: number; resumed: number}): string {
  if (result.resumed === 0) return ''
  return result.resumed === result.images ? ' (all finished earlier: nothing redone)' : ` (${result.resumed} finished earlier, resumed)`
}
