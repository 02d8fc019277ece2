import {describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {annotationToMask} from '../../../src/core/coco/records.js'
import {MOVES} from '../../../src/core/grid/grid.js'
import type {CropMask} from '../../../src/core/masks/crop-mask.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import {classifyGrid} from '../../../src/core/offsets/regions.js'
import {type EvalSettings, planSample} from '../../../src/core/eval/plan.js'
import {groundTruth, offsetIsRight, scoreSample} from '../../../src/core/eval/score.js'

const UNION: EvalSettings = {n: 8, rule: 'union', flipV: false}

/** A w×h image with the pixels [x0, x1) × [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Mask {
  const data = new Uint8Array(w * h)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * w + x] = 1
  return {width: w, height: h, data}
}

function crop(x0: number, y0: number, w: number, h: number): CropMask {
  return {x0, y0, w, h, data: new Uint8Array(w * h).fill(1), area: w * h}
}

describe('offsetIsRight', () => {
  it('agrees with the §5 classifier on every grid point of real COCO objects, for all nine moves and <DELETE>', async () => {
    const data = await readCoco('fixtures/sample/instances.json')
    let checked = 0
    for (const [imageId, anns] of data.annotationsByImage) {
      const image = data.images.get(imageId)!
      for (const ann of anns.slice(0, 2)) {
        const g = annotationToMask(ann, image)
        const frame = {n: 16, width: image.width, height: image.height}
        const {regions, targets} = classifyGrid(g, frame, {hardBand: 2, flipV: false, ties: 'axis-first'})
        for (let k = 0; k < 256; k++) {
          const cell: [number, number] = [k % 16, Math.floor(k / 16)]
          // the classifier's own target is always right
          expect(offsetIsRight(cell, targets[k], g, frame)).toBe(true)
          // a deletion is right exactly where no move reaches G: hard_delete and far
          expect(offsetIsRight(cell, 'delete', g, frame)).toBe(regions[k] === 'hard_delete' || regions[k] === 'far')
          for (const m of MOVES) {
            const right = offsetIsRight(cell, m, g, frame)
            if (regions[k] === 'inside') expect(right).toBe(m[0] === 0 && m[1] === 0)
            if (regions[k] === 'hard_delete' || regions[k] === 'far') expect(right).toBe(false)
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000)
  })

  it('calls a ring move right when its landing pixel is in G, whether or not it is the deepest', () => {
    // 64×64 image, n = 8 (cells of 8 px, steps of 4 px); G = [22, 42)²; grid point (2, 3) has its anchor at (20, 28), outside
    const G = rect(64, 64, 22, 22, 42, 42)
    const frame = {n: 8, width: 64, height: 64}
    expect(offsetIsRight([2, 3], [1, 0], G, frame)).toBe(true) // lands at (24, 28): in G
    expect(offsetIsRight([2, 3], [1, 1], G, frame)).toBe(true) // (24, 32): in G
    expect(offsetIsRight([2, 3], [-1, 0], G, frame)).toBe(false) // (16, 28): outside
    expect(offsetIsRight([2, 3], [0, 0], G, frame)).toBe(false)
    expect(offsetIsRight([2, 3], 'delete', G, frame)).toBe(false)
    // flip-v: dv = +1 moves up, so (3, 2)'s anchor (28, 20) reaches G at (28, 24) with dv = −1
    expect(offsetIsRight([3, 2], [0, -1], G, frame, true)).toBe(true)
    expect(offsetIsRight([3, 2], [0, 1], G, frame, true)).toBe(false)
  })
})

describe('scoreSample (masks given, no SAM)', () => {
  // 80×80 image, n = 8: cells 10 px; G = [20, 60) × [20, 40): 800 pixels, COCO box [20, 20, 40, 20]
  const G = rect(80, 80, 20, 20, 60, 40)
  const gt = groundTruth([G], [[20, 20, 40, 20]])
  const frame = {n: 8, width: 80, height: 80}

  it('IoU of the union of the decoded masks, with the counts cIoU sums', () => {
    const plan = planSample({image_id: 1, ann_ids: [1], split: 'val', answer: '<seg><grid_2_2><grid_4_2></seg>'}, frame, UNION)
    expect(plan.answer.prompts).toHaveLength(2)
    // two masks: [20, 40) × [20, 40) and [30, 70) × [20, 40); union [20, 70) × [20, 40) = 1000 px, ∩ G = 800
    const s = scoreSample(plan, {answer: [crop(20, 20, 20, 20), crop(30, 20, 40, 20)]}, gt, frame, UNION)
    expect(s).toMatchObject({task: 'seg', iou: 0.8, inter: 800, union: 1000, box_iou: null, format_ok: true})
  })

  it('a failed answer scores 0 and keeps |G| as its union', () => {
    const plan = planSample({image_id: 1, ann_ids: [1], split: 'val', answer: '<seg><grid_9_2></seg>'}, frame, UNION)
    const s = scoreSample(plan, {answer: []}, gt, frame, UNION)
    expect(s).toMatchObject({iou: 0, inter: 0, union: 800, format_ok: false, failure: 'out_of_grid'})
  })

  it('box IoU from the corner anchors, moved by the refinement', () => {
    // <grid_2_2> anchor (25, 25), <grid_5_3> anchor (55, 35): box [25, 25, 30, 10] inside G's box → 300 / 800
    const plan = planSample(
      {
        image_id: 1,
        ann_ids: [1],
        split: 'val',
        answer: '<box><grid_2_2><grid_5_3></box>',
        refinement: '<offset><box><OFF_-1_-1><OFF_1_1></box></offset>',
      },
      frame,
      UNION,
    )
    expect(plan.task).toBe('box')
    const s = scoreSample(plan, {answer: [], refined: []}, gt, frame, UNION)
    expect(s.box_iou).toBeCloseTo(300 / 800, 6)
    // moved by half a cell outwards: [20, 20]–[60, 40], G's box exactly
    expect(s.refined?.box_iou).toBe(1)
  })

  it('point task: the point is in G or not; after refinement, where it lands', () => {
    const hit = planSample({image_id: 1, ann_ids: [1], split: 'val', answer: '<grid_3_2>'}, frame, UNION)
    expect(scoreSample(hit, {answer: []}, gt, frame, UNION).point_hit).toBe(true)
    const miss = planSample(
      {image_id: 1, ann_ids: [1], split: 'val', answer: '<grid_1_1>', refinement: '<offset><OFF_1_1></offset>'},
      frame,
      UNION,
    )
    const s = scoreSample(miss, {answer: [], refined: []}, gt, frame, UNION)
    expect(s.point_hit).toBe(false)
    // (15, 15) moved by (5, 5) lands on (20, 20): G's corner pixel
    expect(s.refined).toMatchObject({point_hit: true, offset_acc: 1, offsets_right: 1, offsets_total: 1})
  })

  it('offset_acc counts the refinement tokens §5 calls right, and deleted points are not decoded', () => {
    // (2, 2) anchor (25, 25) inside: OFF_0_0 right; (1, 2) anchor (15, 25): OFF_1_0 lands (20, 25), right;
    // (0, 0) anchor (5, 5): no move reaches G, DELETE right; (6, 6) anchor (65, 65): OFF_0_0 wrong
    const plan = planSample(
      {
        image_id: 1,
        ann_ids: [1],
        split: 'val',
        answer: '<seg><grid_0_0><grid_2_2><grid_1_2><grid_6_6></seg>',
        refinement: '<offset><seg><DELETE><OFF_0_0><OFF_1_0><OFF_0_0></seg></offset>',
      },
      frame,
      UNION,
    )
    expect(plan.answer.prompts).toHaveLength(4)
    expect(plan.refined?.prompts).toHaveLength(3)
    const s = scoreSample(plan, {answer: [crop(20, 20, 40, 20)], refined: [crop(20, 20, 40, 20)]}, gt, frame, UNION)
    expect(s.refined).toMatchObject({offset_acc: 0.75, offsets_right: 3, offsets_total: 4, iou: 1})
  })

  it.each([
    ['an unparsable refinement', UNION, 'seg', '<offset><seg><OFF_0_0>', 'refinement_parse_error', 3],
    ['a refinement of too few tokens', UNION, 'seg', '<offset><seg><OFF_0_0></seg></offset>', 'refinement_mismatch', 3],
    ['text instead of offsets', UNION, 'seg', 'I cannot refine it.', 'refinement_parse_error', 3],
    ['a box-rule refine sample', {...UNION, rule: 'box'}, 'refine', 'no', 'refinement_parse_error', 3],
    // the box rule's seg refinement moves the box corners only: no point owed an offset
    ['a box-rule seg refinement', {...UNION, rule: 'box'}, 'seg', 'no', 'refinement_parse_error', 0],
  ] as const)('%s owes an offset token per grid token, all wrong', (_name, settings, task, refinement, failure, owed) => {
    const answer = `${settings.rule === 'box' ? '<box><grid_2_2><grid_5_3></box>' : ''}<seg><grid_0_0><grid_2_2><grid_1_2></seg>`
    const plan = planSample({image_id: 1, ann_ids: [1], split: 'val', task, answer, refinement}, frame, settings)
    const s = scoreSample(plan, {answer: [crop(20, 20, 40, 20)], refined: []}, gt, frame, settings)
    expect(s.refined).toMatchObject({failure, offsets_right: 0, offsets_total: owed, offset_acc: owed ? 0 : null, iou: 0})
  })

  it('box rule: a refinement of an answer without its <box> fails no_box, and its offsets are still judged one by one', () => {
    // before: offset_acc 0 whatever the offsets; SPEC §9 judges each offset token by its point
    // (2, 2) anchor (25, 25) inside: OFF_0_0 right; (1, 2) anchor (15, 25): OFF_1_0 lands (20, 25), right;
    // (6, 6) anchor (65, 65): OFF_0_0 wrong
    const box: EvalSettings = {...UNION, rule: 'box'}
    const sample = {image_id: 1, ann_ids: [1], split: 'val', task: 'refine' as const}
    const answer = '<seg><grid_2_2><grid_1_2><grid_6_6></seg>'
    const plan = planSample({...sample, answer, refinement: '<offset><seg><OFF_0_0><OFF_1_0><OFF_0_0></seg></offset>'}, frame, box)
    const s = scoreSample(plan, {answer: [], refined: []}, gt, frame, box)
    expect(s).toMatchObject({failure: 'no_box', iou: 0})
    expect(s.refined).toMatchObject({failure: 'no_box', iou: 0, box_iou: 0, format_ok: false})
    expect(s.refined).toMatchObject({offsets_right: 2, offsets_total: 3})
    expect(s.refined?.offset_acc).toBeCloseTo(2 / 3, 6)
  })

  it('box rule: one prompt of box and points; an answer without a box cannot be decoded', () => {
    const box: EvalSettings = {...UNION, rule: 'box'}
    const plan = planSample(
      {image_id: 1, ann_ids: [1], split: 'val', answer: '<box><grid_2_2><grid_5_3></box><seg><grid_3_2></seg>'},
      frame,
      box,
    )
    expect(plan.answer.prompts).toEqual([
      {
        points: [
          [25, 25],
          [55, 35],
          [35, 25],
        ],
        labels: [2, 3, 1],
      },
    ])
    const s = scoreSample(plan, {answer: [crop(20, 20, 40, 20)]}, gt, frame, box)
    expect(s).toMatchObject({iou: 1, format_ok: true})
    expect(s.box_iou).toBeCloseTo(300 / 800, 6)
    const noBox = planSample({image_id: 1, ann_ids: [1], split: 'val', answer: '<seg><grid_3_2></seg>'}, frame, box)
    expect(scoreSample(noBox, {answer: []}, gt, frame, box)).toMatchObject({iou: 0, box_iou: 0, failure: 'no_box'})
  })

  it('several referred objects: the ground truth is their union and the box around their boxes', () => {
    const two = groundTruth(
      [rect(80, 80, 0, 0, 10, 10), rect(80, 80, 70, 70, 80, 80)],
      [
        [0, 0, 10, 10],
        [70, 70, 10, 10],
      ],
    )
    expect(two.area).toBe(200)
    expect(two.boxXywh).toEqual([0, 0, 80, 80])
  })

  it("one object's mask is held as it is, not copied (a cached mask is not held twice); several are unioned into a new one", () => {
    const [a, b] = [rect(80, 80, 0, 0, 10, 10), rect(80, 80, 70, 70, 80, 80)]
    expect(groundTruth([a], [[0, 0, 10, 10]]).mask).toBe(a)
    const two = groundTruth([a, b], [[0, 0, 10, 10]])
    expect(two.mask).not.toBe(a)
    expect([a.data.reduce((s, v) => s + v, 0), b.data.reduce((s, v) => s + v, 0)]).toEqual([100, 100])
  })
})
