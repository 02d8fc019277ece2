// Ground truth a request names or sends, made on real COCO annotations: pacing between masks.
import {describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {maskArea} from '../../../src/core/masks/mask.js'
import {CocoTruth, RequestTruths, pacer, sentTruth} from '../../../src/pipeline/serve/ground-truth.js'
import {type GtSampleRequest, HttpError} from '../../../src/server/protocol.js'

/** Runs `work` and says whether the event loop turned (a setImmediate ran) before it was done. */
async function turned(work: () => Promise<unknown>): Promise<boolean> {
  let ran = false
  const immediate = setImmediate(() => (ran = true))
  await work()
  clearImmediate(immediate)
  return ran
}

const square = {segmentation: [[0, 0, 639, 0, 639, 479, 0, 479]], width: 640, height: 480}
const sent = (n: number): GtSampleRequest => ({kind: 'gt', at: '', image: 'a.jpg', answer: 'x', gt: Array.from({length: n}, () => square)})

describe('ground truth yields to other requests between its masks, never after the last', () => {
  it('sent objects: one is made without a turn of the event loop; between two, the pace yields (here at once: 0 ms)', async () => {
    expect(await turned(() => sentTruth(sent(1), pacer(0)))).toBe(false)
    expect(await turned(() => sentTruth(sent(2), pacer(0)))).toBe(true)
    // within the pace's time, no turn
    expect(await turned(() => sentTruth(sent(2), pacer(60_000)))).toBe(false)
  })

  it('COCO annotations: the same', async () => {
    const truth = new CocoTruth(await readCoco('fixtures/sample/instances.json'), 1 << 24)
    const sample = (annIds: number[]) => ({kind: 'coco' as const, at: '', image_id: 25560, ann_ids: annIds, answer: 'x'})
    const image = truth.image(sample([29572]))
    expect(await turned(() => truth.truth(sample([29572]), image, pacer(0)))).toBe(false)
    expect(await turned(() => truth.truth(sample([29572, 48152]), image, pacer(0)))).toBe(true)
  })
})

describe("one request's samples that name the same ground truth share one, made once", () => {
  const cocoTruth = async () => new CocoTruth(await readCoco('fixtures/sample/instances.json'), 1 << 24)
  const gtAt = (at: string, gt: GtSampleRequest['gt']): GtSampleRequest => ({kind: 'gt', at, image: 'a.jpg', answer: 'x', gt})
  const poly = (x: number) => ({segmentation: [[x, 10, 100, 10, 100, 100]], width: 640, height: 480})

  it('sent gt: the same objects, one GroundTruth; other objects or another image size, their own', async () => {
    const counts = {built: 0, shared: 0}
    const truths = new RequestTruths(await cocoTruth(), counts)
    const a = await truths.ofSent(gtAt('[0]', [poly(10)]))
    // parsed anew, as each sample of a body is: equal by content, not by reference
    expect(await truths.ofSent(gtAt('[1]', [poly(10)]))).toBe(a)
    const b = await truths.ofSent(gtAt('[2]', [poly(50)]))
    const taller = await truths.ofSent(gtAt('[3]', [{...poly(10), height: 500}]))
    const two = await truths.ofSent(gtAt('[4]', [poly(10), poly(50)]))
    expect(new Set([a, b, taller, two]).size).toBe(4)
    expect(b.area).toBeLessThan(a.area)
    expect(taller.mask.height).toBe(500)
    expect(two.area).toBe(a.area)
    expect(counts).toEqual({built: 4, shared: 1})
    // as the sample alone makes it
    expect(await sentTruth(gtAt('', [poly(50)]))).toEqual(b)
  })

  it('COCO ids: the same image and ann_ids, one GroundTruth; other ids, their own', async () => {
    const coco = await cocoTruth()
    const counts = {built: 0, shared: 0}
    const truths = new RequestTruths(coco, counts)
    const sample = (at: string, annIds: number[]) => ({kind: 'coco' as const, at, image_id: 25560, ann_ids: annIds, answer: 'x'})
    const image = coco.image(sample('', [29572]))
    const tv = await truths.ofCoco(sample('[0]', [29572]), image)
    expect(await truths.ofCoco(sample('[1]', [29572]), image)).toBe(tv)
    const both = await truths.ofCoco(sample('[2]', [29572, 48152]), image)
    const cat = await truths.ofCoco(sample('[3]', [48152]), image)
    expect(new Set([tv, both, cat]).size).toBe(3)
    expect(both.area).toBeGreaterThan(Math.max(tv.area, cat.area))
    // the union is a mask of its own: the tv's (the cache's, not copied) is as it was
    expect(maskArea(tv.mask)).toBe(tv.area)
    expect(counts).toEqual({built: 3, shared: 1})
  })

  it('a failure is never shared: each sample with the bad gt is refused on its own field', async () => {
    const truths = new RequestTruths(await cocoTruth(), {built: 0, shared: 0})
    const bad = [{segmentation: [[10, 10, 20, 20]], width: 640, height: 480}]
    const refusal = (at: string) => truths.ofSent(gtAt(at, bad)).catch((e: HttpError) => [e.status, e.message])
    const reason = 'polygon part 0 has 2 points, at least 3 needed'
    expect(await refusal('[3]')).toEqual([422, `[3].gt.segmentation: ${reason}`])
    expect(await refusal('[7]')).toEqual([422, `[7].gt.segmentation: ${reason}`])
    const badSecond = gtAt('[9]', [poly(10), ...bad])
    await expect(truths.ofSent(badSecond)).rejects.toThrow(`[9].gt[1].segmentation: ${reason}`)
  })
})
