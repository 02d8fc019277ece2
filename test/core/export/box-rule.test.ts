import {describe, expect, it} from 'vitest'
import {flipBoxOffsets, ruleAnswer, ruleTarget} from '../../../src/core/export/box-rule.js'
import {type BuildOptions, type CuratedObject} from '../../../src/core/export/conversations.js'
import {buildConversations} from '../../../src/core/export/conversation-source.js'
import {parseTemplates} from '../../../src/core/export/templates.js'
import {inferTask, planSample} from '../../../src/core/eval/plan.js'
import {BASE_OPTIONS} from '../../helpers/export-fixtures.js'

// Two box-rule objects of one real image (COCO 25560, 640×480, n = 16) as `curate --decode box` wrote them: the tv of
// zero points and a cup with one; a second cup makes "all the cups".
const BOX = '<offset><box><OFF_1_-1><OFF_1_0></box></offset>'
const tv: CuratedObject = {
  image: '000000025560.jpg',
  imageId: 25560,
  annId: 29572,
  category: 'tv',
  points: [],
  seg: '<seg></seg>',
  box: '<box><grid_3_0><grid_13_8></box>',
  iou: 0.901434,
  decode: 'box',
  boxOffsets: BOX,
}
const cup: CuratedObject = {
  ...tv,
  annId: 1,
  category: 'cup',
  points: [[1, 14]],
  seg: '<seg><grid_1_14></seg>',
  box: '<box><grid_0_14><grid_1_15></box>',
  boxOffsets: '<offset><box><OFF_-1_-1><OFF_1_1></box></offset>',
}
const cup2: CuratedObject = {...cup, annId: 2, points: [[9, 9]], seg: '<seg><grid_9_9></seg>', box: '<box><grid_8_8><grid_10_10></box>'}

const OPTIONS: BuildOptions = {...BASE_OPTIONS, defaultSplit: 'val'}
const REFINE = {
  imageId: 25560,
  annId: 29572,
  prev: '<seg><grid_4_1><grid_9_9></seg>',
  target: '<offset><seg><OFF_0_0><DELETE></seg></offset>',
}

describe('box-rule conversations', () => {
  const {conversations, skips} = buildConversations([tv, cup, cup2], [REFINE], OPTIONS)
  const of = (task: string, annId: number) => conversations.filter((c) => c.task === task && c.annIds.includes(annId))

  it('seg: the box then the points, and a trained second turn of the box offsets', () => {
    const [seg] = of('seg', 29572)
    expect(seg.turns).toEqual([
      {user: 'Please segment the tv.', assistant: '<box><grid_3_0><grid_13_8></box><seg></seg>', train: true},
      {user: 'Please refine the box corners with offset tokens.', assistant: BOX, train: true},
    ])
  })

  it('refine: the box before the simulated answer, its moves before the offsets', () => {
    const [refine] = of('refine', 29572)
    expect(refine.turns.map((t) => [t.assistant, t.train])).toEqual([
      ['<box><grid_3_0><grid_13_8></box><seg><grid_4_1><grid_9_9></seg>', false],
      [`${BOX}<offset><seg><OFF_0_0><DELETE></seg></offset>`, true],
    ])
    const one = buildConversations([tv], [REFINE], {...OPTIONS, tasks: ['refine'], refineForm: 'one-turn'}).conversations[0]
    expect(one.turns[0].user).toContain('is <box><grid_3_0><grid_13_8></box><seg><grid_4_1><grid_9_9></seg>. Please refine')
  })

  it('point: skipped for zero points; multi: boxes and points, then all box offsets', () => {
    expect(of('point', 29572)).toEqual([])
    expect(skips).toContainEqual({image_id: 25560, ann_id: 29572, task: 'point', reason: expect.stringMatching(/no grid points/)})
    const [multi] = conversations.filter((c) => c.task === 'multi')
    expect(multi.turns.map((t) => t.assistant)).toEqual([
      // reading order of the first point: (9, 9) before (1, 14)
      '<box><grid_8_8><grid_10_10></box><seg><grid_9_9></seg>, <box><grid_0_14><grid_1_15></box><seg><grid_1_14></seg>',
      '<offset><box><OFF_-1_-1><OFF_1_1></box></offset>, <offset><box><OFF_-1_-1><OFF_1_1></box></offset>',
    ])
  })

  it('union objects (no boxOffsets) keep the one-turn seg answer', () => {
    const union = {...cup, decode: undefined, boxOffsets: undefined, points: [[1, 14]] as [number, number][]}
    expect(ruleAnswer(union)).toBe('<seg><grid_1_14></seg>')
    expect(ruleTarget(union, '<offset><seg><OFF_0_0></seg></offset>')).toBe('<offset><seg><OFF_0_0></seg></offset>')
    const [seg] = buildConversations([union], null, {...OPTIONS, tasks: ['seg']}).conversations
    expect(seg.turns).toHaveLength(1)
  })

  it('the second turn prompt is a template key of its own', () => {
    const t = parseTemplates({refine_box: 'Fix the corners.'})
    const [seg] = buildConversations([tv], null, {...OPTIONS, tasks: ['seg'], templates: t}).conversations
    expect(seg.turns[1].user).toBe('Fix the corners.')
  })
})

describe('box offsets in the other dv sign, and how eval reads box-rule answers', () => {
  it('flips dv only, zero stays zero', () => {
    expect(flipBoxOffsets(BOX, 16, 'plain')).toBe('<offset><box><OFF_1_1><OFF_1_0></box></offset>')
    expect(flipBoxOffsets('<offset><box><OFF_{0,-1}><OFF_{-1,1}></box></offset>', 16, 'paper')).toBe(
      '<offset><box><OFF_{0,1}><OFF_{-1,-1}></box></offset>',
    )
  })

  it('the box alone with its empty <seg> is a mask answer; a bare <box> is a box answer', () => {
    expect(inferTask('<box><grid_3_0><grid_13_8></box><seg></seg>', 16)).toBe('seg')
    expect(inferTask('<box><grid_3_0><grid_13_8></box>', 16)).toBe('box')
  })

  it('under the box rule the box-offsets turn moves the corners and keeps the (zero) points: one prompt of the box', () => {
    const frame = {n: 16, width: 640, height: 480}
    const sample = {image_id: 25560, ann_ids: [29572], split: 'val', answer: ruleAnswer(tv), refinement: BOX}
    const plan = planSample(sample, frame, {n: 16, rule: 'box', flipV: false})
    expect(plan.task).toBe('seg')
    expect(plan.answer.failure).toBeUndefined()
    // anchors (3.5·40, 0.5·30) and (13.5·40, 8.5·30); moved by (+1, −1) and (+1, 0) half cells of 20 × 15 px
    expect(plan.answer.prompts[0].points.slice(0, 2)).toEqual([
      [140, 15],
      [540, 255],
    ])
    expect(plan.refined!.failure).toBeUndefined()
    expect(plan.refined!.prompts[0].points).toEqual([
      [160, 0],
      [560, 255],
    ])
    expect(plan.refined!.prompts[0].labels).toEqual([2, 3])
  })
})
