// Ground truth a request names or sends, made on real COCO annotations: pacing between masks.
import {describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {CocoTruth, pacer, sentTruth} from '../../../src/pipeline/serve/ground-truth.js'
import type {GtSampleRequest} from '../../../src/server/protocol.js'

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
