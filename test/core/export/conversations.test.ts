import {describe, expect, it} from 'vitest'
import {type BuildOptions, type CuratedObject, type RefinementObject, pointToken} from '../../../src/core/export/conversations.js'
import {buildConversations} from '../../../src/core/export/conversation-source.js'
import {BASE_OPTIONS, curatedSample, offsetsSample} from '../../helpers/export-fixtures.js'
import {DEFAULT_TEMPLATES, fillTemplate, parseTemplates, pickVariant, pluralCategory} from '../../../src/core/export/templates.js'

// Real curate / offsets records (fixtures/curated-sample, fixtures/offsets-sample: n = 16, plain).
const CURATED: CuratedObject[] = curatedSample()
const OFFSETS: RefinementObject[] = offsetsSample()
const BASE: BuildOptions = BASE_OPTIONS

describe('category fallback', () => {
  const {conversations, skips, expressions} = buildConversations(CURATED, OFFSETS, BASE)

  it('names a category only where it is alone in its image: the two couches of image 219578 get no "the couch"', () => {
    const couches = CURATED.filter((c) => c.category === 'couch').map((c) => c.annId)
    expect(couches.length).toBe(2)
    expect(conversations.filter((c) => c.task !== 'multi' && couches.includes(c.annIds[0]))).toEqual([])
    expect(skips.filter((s) => couches.includes(s.ann_id as number)).map((s) => s.reason)).toEqual([
      'ambiguous category: 2 curated "couch" objects in the image',
      'ambiguous category: 2 curated "couch" objects in the image',
    ])
    expect(expressions).toMatchObject({source: 'category', matched: 10, objects_without_expression: 2})
  })

  it('makes "all the couches" with both couches, in reading order of their first point', () => {
    const multi = conversations.filter((c) => c.task === 'multi')
    expect(multi.length).toBe(1)
    expect(multi[0].turns).toEqual([
      {
        user: 'Please segment all the couches.',
        train: true,
        assistant: '<seg><grid_4_4><grid_11_5><grid_15_9></seg>, <seg><grid_1_6><grid_2_11></seg>',
      },
    ])
    expect(multi[0].annIds).toEqual([1604105, 97882])
  })

  it('writes the paper-style wording and the curated tokens', () => {
    const cat = conversations.filter((c) => c.annIds[0] === 48152)
    expect(cat.map((c) => [c.task, c.turns[0].user, c.turns[0].assistant])).toEqual([
      ['seg', 'Please segment the cat.', '<seg><grid_8_8></seg>'],
      ['box', 'Please locate the cat with a bounding box.', '<box><grid_3_6><grid_12_11></box>'],
      ['point', 'Please point to the cat.', '<grid_8_8>'],
      ['refine', 'Please segment the cat.', OFFSETS.find((o) => o.annId === 48152)?.prev],
    ])
  })

  it('drops seg and point answers below --min-iou, keeps the box (from COCO)', () => {
    const book = conversations.filter((c) => c.annIds[0] === 1652246).map((c) => c.task)
    expect(book).toEqual(['box', 'refine'])
    expect(skips.filter((s) => s.ann_id === 1652246).map((s) => s.task)).toEqual(['seg', 'point'])
  })

  it('makes nothing from an image where curate skipped annotations (their categories are unknown)', () => {
    const r = buildConversations(CURATED, OFFSETS, {...BASE, uncertainImages: new Set([219578])})
    expect(r.conversations.filter((c) => c.imageId === 219578)).toEqual([])
    expect(r.skips.filter((s) => s.image_id === 219578).length).toBe(5) // cat, dog, 2 couches, all the couches
  })
})

describe('refinement', () => {
  const prev = OFFSETS.find((o) => o.annId === 48152) as RefinementObject
  it('two turns: the previous prediction is context, the offsets are the target', () => {
    const c = buildConversations(CURATED, OFFSETS, {...BASE, tasks: ['refine']}).conversations.find((c) => c.annIds[0] === 48152)
    expect(c?.turns).toEqual([
      {user: 'Please segment the cat.', assistant: prev.prev, train: false},
      {user: 'Please refine the segmentation with offset tokens.', assistant: prev.target, train: true},
    ])
  })
  it('one turn: the previous prediction goes into the prompt', () => {
    const c = buildConversations(CURATED, OFFSETS, {...BASE, tasks: ['refine'], refineForm: 'one-turn'}).conversations.find(
      (c) => c.annIds[0] === 48152,
    )
    expect(c?.turns).toEqual([
      {
        user: `A previous segmentation of the cat is ${prev.prev}. Please refine it with offset tokens.`,
        assistant: prev.target,
        train: true,
      },
    ])
  })
  it('counts objects without an offsets record', () => {
    const r = buildConversations(CURATED, [], {...BASE, tasks: ['refine']})
    expect(r.conversations).toEqual([])
    expect(new Set(r.skips.map((s) => s.reason))).toContain('no offsets record for this annotation')
  })
})

describe('referring expressions', () => {
  const expressions = {
    source: 'jsonl' as const,
    entries: [
      {annId: 97882, expression: 'the couch on the left', split: 'val'},
      {annId: 97882, imageId: 219578, expression: 'left sofa', split: 'val'},
      {annId: 4242, expression: 'an object nobody curated'},
      {annId: 48152, imageId: 1, expression: 'a cat on the wrong image'},
    ],
  }
  const r = buildConversations(CURATED, null, {...BASE, tasks: ['seg', 'multi'], expressions})

  it('joins by annotation id, keeps the split, counts the rest', () => {
    expect(r.expressions).toEqual({
      source: 'jsonl',
      total: 4,
      matched: 2,
      not_curated: 1,
      image_mismatch: 1,
      objects_without_expression: 11,
    })
    const seg = r.conversations.filter((c) => c.task === 'seg')
    expect(seg.map((c) => [c.id, c.split, c.turns[0].user])).toEqual([
      ['219578_97882_e0_seg', 'val', 'Please segment the couch on the left.'],
      ['219578_97882_e1_seg', 'val', 'Please segment left sofa.'],
    ])
  })

  it('puts "all the X" in the split of its image\'s expressions', () => {
    expect(r.conversations.filter((c) => c.task === 'multi').map((c) => c.split)).toEqual(['val'])
  })
})

describe('pointing answer', () => {
  it.each([
    [[[8, 8]], '<grid_8_8>'],
    [
      [
        [1, 8],
        [2, 9],
        [2, 11],
        [2, 12],
        [0, 13],
      ],
      '<grid_2_11>',
    ], // mean (1.4, 10.6)
    [
      [
        [0, 0],
        [2, 0],
      ],
      '<grid_0_0>',
    ], // a tie goes to raster order
    [
      [
        [13, 4],
        [4, 4],
        [11, 5],
      ],
      '<grid_11_5>',
    ],
  ])('%j → %s', (points, token) => {
    expect(pointToken(points as [number, number][], 16, 'plain')).toBe(token)
  })
  it('follows the token style', () => expect(pointToken([[3, 4]], 16, 'paper')).toBe('<grid_{3,4}>'))
})

describe('templates', () => {
  it('replaces entries from a file and keeps the other defaults', () => {
    const t = parseTemplates({
      seg: ['Segment {expression}.', 'Where is {expression}? Answer with a mask.'],
      answers: {box: 'Sure: {answer}'},
    })
    expect(t.prompts.seg.length).toBe(2)
    expect(t.prompts.box).toEqual(DEFAULT_TEMPLATES.prompts.box)
    const r = buildConversations(CURATED, null, {...BASE, tasks: ['seg', 'box'], templates: t})
    expect(r.conversations.find((c) => c.task === 'box')?.turns[0].assistant).toBe('Sure: <box><grid_3_0><grid_13_8></box>')
    expect(new Set(r.conversations.filter((c) => c.task === 'seg').map((c) => c.turns[0].user.split(' ')[0]))).toEqual(
      new Set(['Segment', 'Where']),
    )
  })

  it.each([
    [{seg: 'Segment it.'}, /"seg": "Segment it." lacks \{expression\}/],
    [{seg: 'Segment {expr}.'}, /unknown placeholder \{expr\}/],
    [{segment: 'x'}, /unknown key "segment"/],
    [{answers: {seg: 'done'}}, /"answers.seg": "done" lacks \{answer\}/],
    [{multi: []}, /"multi": expected a non-empty string/],
    [[1], /expected a JSON object/],
  ])('refuses %j', (doc, message) => {
    expect(() => parseTemplates(doc)).toThrow(message)
  })

  it('picks a variant by a stable hash and fills placeholders', () => {
    expect(pickVariant(['a', 'b', 'c'], 'x')).toBe(pickVariant(['a', 'b', 'c'], 'x'))
    expect(fillTemplate('all the {categories}', {categories: 'cats'})).toBe('all the cats')
    expect(() => fillTemplate('{prev}', {})).toThrow(/needs \{prev\}/)
  })

  it.each([
    ['cat', 'cats'],
    ['person', 'people'],
    ['bus', 'buses'],
    ['couch', 'couches'],
    ['wine glass', 'wine glasses'],
    ['skis', 'skis'],
    ['knife', 'knives'],
    ['traffic light', 'traffic lights'],
  ])('plural of %s is %s', (one, many) => expect(pluralCategory(one)).toBe(many))
})
