/** --workers, for the commands that pay for a worker process (curate; see docs/scale.md). Its own file: flags.ts is at its line limit. */
import {Flags} from '@oclif/core'
import {WORKERS_HELP} from '../pipeline/workers/count.js'

export const workerFlags = {
  workers: Flags.integer({summary: WORKERS_HELP, min: 1}),
}
