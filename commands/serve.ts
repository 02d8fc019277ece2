import * as path from 'node:path'
import {count, GetokCommand} from '../src/cli/base-command.js'
import {evalFlags, inputFlags, samFlags} from '../src/cli/flags.js'
import {serveFlags} from '../src/cli/serve-flags.js'
import {defaultBatch} from '../src/sam/devices.js'
import {defaultModelFiles} from '../src/sam/model-files.js'

export default class Serve extends GetokCommand {
  static summary = 'A local reward server for GRPO trainers: scores answers as getok eval does, over HTTP.'
  static description =
    'POST /score takes a sample {"image_id", "ann_id" | "ann_ids", "answer", "refinement"?} (or {"image", "gt", "answer"}) or a ' +
    'list of them and answers {"iou", "box_iou", "format_ok", "refined"?} in the same order, decoded exactly as the curated data ' +
    'was made (--curated or --export). GET /health answers 200 once the model is loaded; GET /stats. Image embeddings are ' +
    'cached, concurrent samples of an image are batched into one decoder pass. SIGTERM or SIGINT stops it gracefully. See docs/rl.md.'
  static examples = [
    '<%= config.bin %> serve -a instances_train2017.json -i train2017 --curated out/curated',
    '<%= config.bin %> serve -a instances.json -i images --export out/swift --port 8421 --cache-mb 4096 --device cuda',
  ]
  static flags = {
    annotations: inputFlags.annotations,
    images: inputFlags.images,
    ...serveFlags,
    ...samFlags,
    curated: evalFlags.curated,
    grid: evalFlags.grid,
    decode: evalFlags.decode,
    'mask-policy': evalFlags['mask-policy'],
    'flip-v': evalFlags['flip-v'],
    batch: evalFlags.batch,
  }

  async run(): Promise<Record<string, unknown>> {
    const {flags} = await this.parse(Serve)
    const files = flags.encoder && flags.decoder ? {encoder: flags.encoder, decoder: flags.decoder} : defaultModelFiles()
    const stop = nextSignal()
    // loaded on run, so that listing or running other commands never loads onnxruntime or sharp
    const [{startServe, decodeLine}, {SamEngine}] = await Promise.all([
      import('../src/pipeline/serve/serve-run.js'),
      import('../src/sam/engine.js'),
    ])
    const handle = await startServe({
      annotations: flags.annotations,
      images: flags.images,
      host: flags.host,
      port: flags.port,
      decode: {
        curated: flags.curated,
        reference: flags.export && path.join(flags.export, 'manifest.json'),
        grid: flags.grid,
        rule: flags.decode,
        policy: flags['mask-policy'],
        flipV: flags['flip-v'],
      },
      batch: flags.batch ?? defaultBatch(flags.device),
      cacheMb: flags['cache-mb'],
      gtCacheMb: flags['gt-cache-mb'],
      concurrency: flags.concurrency,
      windowMs: flags['batch-window-ms'],
      timeoutMs: flags['timeout-ms'],
      bodyTimeoutMs: flags['body-timeout-ms'],
      maxBodyKb: flags['max-body-kb'],
      maxSamples: flags['max-samples'],
      maxObjects: flags['max-objects'],
      maxRequestObjects: flags['max-request-objects'],
      maxQueue: flags['max-queue'],
      engine: () => SamEngine.load({files, device: flags.device, threads: flags.threads, quantizeDecoder: flags['quantize-decoder']}),
      warn: (line) => this.warning(line),
    })
    this.log(`getok serve: listening on ${handle.url}, loading the annotations and the model …`)
    this.log(`decoding: ${decodeLine(handle.decode)}`)
    const loaded = await Promise.race([handle.ready, stop]).catch(async (error) => {
      await handle.close()
      throw error
    })
    if (typeof loaded !== 'string') {
      const h = loaded.health()
      this.log(
        `ready: ${count(Number(h.images), 'image')}, ${count(Number(h.annotations), 'annotation')}, ` +
          `model ${(h.model as {name: string}).name} on ${h.device}`,
      )
    }
    const signal = typeof loaded === 'string' ? loaded : await stop
    this.log(`${signal}: no new connections; finishing ${count(handle.http.inFlight(), 'request')} in flight …`)
    const figures = await handle.close()
    this.log(
      `stopped after ${count(Number(figures.requests), 'request')} (${count(Number(figures.errors), 'error')}), ` +
        `${count(Number(figures.samples ?? 0), 'sample')} scored`,
    )
    return figures
  }
}

/** The first SIGTERM or SIGINT; a second one falls through to Node's default (immediate exit). */
function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on)
      process.off('SIGINT', on)
      resolve(signal)
    }
    process.once('SIGTERM', on)
    process.once('SIGINT', on)
  })
}
