import {describe, expect, it} from 'vitest'
import {type Built, conversationSource, isSkip} from '../../../src/core/export/conversation-source.js'
import {type BuildOptions, type RefinementObject} from '../../../src/core/export/conversations.js'
import {BASE_OPTIONS, curatedSample, fixtureLines, offsetsSample} from '../../helpers/export-fixtures.js'

// Export builds conversations again at each pass instead of holding them (a COCO-sized export makes millions).
// On the real records of fixtures/curated-sample and fixtures/offsets-sample (n = 16, plain).
const ROWS = fixtureLines('curated-sample/curate-00000-of-00001.jsonl')
const curated = curatedSample
const OFFSETS: RefinementObject[] = offsetsSample()
const BASE: BuildOptions = BASE_OPTIONS
const what = (b: Built) => (isSkip(b) ? ['skip', b.ann_id ?? b.image_id, b.task] : [b.task, b.annIds.join('+'), b.split])

describe('conversation source', () => {
  it('builds in the order export always wrote: each object alone in its category, task by task, then "all the X"', () => {
    const source = conversationSource(curated(), OFFSETS, BASE)
    // the two couches of image 219578 are ambiguous; the book (IoU 0.45) has no seg or point answer
    const alone = ROWS.filter((r) => r.category !== 'couch')
    const expected = alone.flatMap((r) =>
      ['seg', 'box', 'point', 'refine'].map((t) =>
        r.ann_id === 1652246 && (t === 'seg' || t === 'point') ? ['skip', r.ann_id, t] : [t, String(r.ann_id), 'train'],
      ),
    )
    expect([...source.build()].map(what)).toEqual([...expected, ['multi', '1604105+97882', 'train']])
    expect(source.skips.map((s) => s.ann_id)).toEqual([97882, 1604105])
    expect(source.size).toBe(10 * 4 + 1)
  })

  it('builds each conversation afresh at every pass, the same as before, and only when asked for it', () => {
    let reads = 0
    const counted = curated().map((c) => {
      const seg = c.seg
      return Object.defineProperty({...c}, 'seg', {get: () => (reads++, seg), enumerable: true})
    })
    const source = conversationSource(counted, null, {...BASE, tasks: ['seg']})
    expect(reads).toBe(0)
    const it = source.build()
    it.next()
    it.next()
    expect(reads).toBe(2)
    const [a, b] = [[...source.build()], [...source.build()]]
    expect(a).toEqual(b)
    expect(a[0]).not.toBe(b[0])
    expect(a.filter((c) => !isSkip(c))).toHaveLength(9)
  })

  it("with a split, builds that split's conversations only, in the same order", () => {
    // image ids mod 3: 25560 → a, 184321 → b, 219578 and 443303 → c; 25560's first and third objects once more in b
    const entries = ROWS.flatMap((r, k) => [
      {annId: r.ann_id, expression: `object ${k}`, split: ['a', 'b', 'c'][r.image_id % 3]},
      ...(k === 0 || k === 2 ? [{annId: r.ann_id, expression: `again ${k}`, split: 'b'}] : []),
    ])
    const source = conversationSource(curated(), OFFSETS, {...BASE, expressions: {source: 'jsonl', entries}})
    const all = [...source.build()].filter((b) => !isSkip(b)).map(what)
    // referents × 4 tasks (every object has an offsets record); c: the book's seg and point skipped, all the couches
    const expected = {a: [4 * 4, 0], b: [3 * 4, 0], c: [7 * 4 - 2, 1]}
    for (const [split, [single, multi]] of Object.entries(expected)) {
      const built = [...source.build(split)].filter((b) => !isSkip(b)).map(what)
      expect(built).toEqual(all.filter((w) => w[2] === split))
      expect([built.filter((w) => w[0] !== 'multi').length, built.filter((w) => w[0] === 'multi').length]).toEqual([single, multi])
    }
    expect(all).toHaveLength(16 + 12 + 27)
  })
})
