/** --workers, for the commands that pay for a worker process (curate; see docs/scale.md). Its own file: flags.ts is at its line limit. */
import {Flags} from '@oclif/core'
import {WORKERS_HELP} from '../pipeline/workers/count.js'

export const workerFlags = {
  workers: Flags.integer({summary: WORKERS_HELP, min: 1}),
}

/** curate only: prompts gathered across images (src/sam/cross-image-batcher.ts); the default depends on --device */
export const crossImageFlags = {
  'cross-image': Flags.boolean({
    summary:
      'Keep 4 images in flight in this process and run their prompts together in decoder runs of up to max(--batch, 16); ' +
      'the same records. Default: off with --device cpu (slower there, docs/gpu.md "Batching across images"), on with a GPU.',
    allowNo: true,
  }),
}
