import {describe, expect, it} from 'vitest'
import {HttpError, sampleReply} from '../../src/server/protocol.js'
import {describe as describeValue, parseScoreRequest} from '../../src/server/request.js'
import type {SampleScore} from '../../src/core/eval/score.js'

const parse = (body: unknown, max = 10) => parseScoreRequest(body, {samples: max, objects: 3, requestObjects: 5})

function refusal(body: unknown, max = 10): {status: number; message: string} {
  try {
    parse(body, max)
  } catch (error) {
    if (error instanceof HttpError) return {status: error.status, message: error.message}
    throw error
  }
  throw new Error('accepted')
}

describe('parseScoreRequest: the two sample forms', () => {
  it('one COCO sample with ann_id; a list keeps its order and says where each sample is', () => {
    expect(parse({image_id: 1, ann_id: 2, answer: 'a'})).toEqual({
      list: false,
      samples: [{kind: 'coco', at: '', image_id: 1, ann_ids: [2], answer: 'a'}],
    })
    const r = parse([
      {image_id: 1, ann_ids: [2, 3], answer: 'a', refinement: 'r', task: 'multi'},
      {image: 'x/y.jpg', gt: {segmentation: [[0, 0, 1, 0, 1, 1]], width: 4, height: 3, bbox: [0, 0, 1, 1]}, answer: ''},
    ])
    expect(r.list).toBe(true)
    expect(r.samples[0]).toEqual({kind: 'coco', at: '[0]', image_id: 1, ann_ids: [2, 3], answer: 'a', refinement: 'r', task: 'multi'})
    expect(r.samples[1]).toEqual({
      kind: 'gt',
      at: '[1]',
      image: 'x/y.jpg',
      answer: '',
      gt: [{segmentation: [[0, 0, 1, 0, 1, 1]], width: 4, height: 3, bbox: [0, 0, 1, 1]}],
    })
  })

  it('gt may be a list of objects (a multi-instance expression), all of one size', () => {
    const seg = [[0, 0, 1, 0, 1, 1]]
    const r = parse({
      image: 'a.jpg',
      gt: [
        {segmentation: seg, width: 4, height: 3},
        {segmentation: seg, width: 4, height: 3},
      ],
      answer: 'x',
    })
    expect(r.samples[0].kind === 'gt' && r.samples[0].gt).toHaveLength(2)
    expect(
      refusal({
        image: 'a.jpg',
        gt: [
          {segmentation: seg, width: 4, height: 3},
          {segmentation: seg, width: 5, height: 3},
        ],
        answer: 'x',
      }),
    ).toEqual({status: 400, message: 'gt[1]: objects of one image differ in size: expected 4x3, got 5x3'})
  })
})

const NEEDS = 'sample: needs "image_id" (a COCO image) or "image" and "gt" (ground truth sent along)'

describe('parseScoreRequest: every refusal names its field', () => {
  it.each([
    [null, 'sample: expected an object, got null'],
    [42, 'sample: expected an object, got 42'],
    ['text', 'sample: expected an object, got "text"'],
    [[], 'an empty list: expected at least one sample'],
    [[1], '[0]: expected an object, got 1'],
    [{answer: 'a'}, 'sample: needs "image_id" (a COCO image) or "image" and "gt" (ground truth sent along)'],
    [{imageid: 1, ann_id: 2, answer: 'a'}, `${NEEDS}; "imageid" is not a key`],
    [
      {samples: [{image_id: 1, ann_id: 2, answer: 'a'}]},
      `${NEEDS}; "samples" is not a key: send a list of samples as the body itself, a JSON array`,
    ],
    [[{ids: [1]}], `[0]${NEEDS.slice('sample'.length)}; "ids" is not a key`],
    [{image_id: '1', ann_id: 2, answer: 'a'}, 'image_id: not an integer: expected an integer, got "1"'],
    [{image_id: 1.5, ann_id: 2, answer: 'a'}, 'image_id: not an integer: expected an integer, got 1.5'],
    [{image_id: 1, answer: 'a'}, 'ann_id: required with "image_id" (or "ann_ids")'],
    [{image_id: 1, ann_id: 2, ann_ids: [2], answer: 'a'}, 'ann_ids: give "ann_id" or "ann_ids", not both'],
    [{image_id: 1, ann_ids: [], answer: 'a'}, 'ann_ids: bad annotation ids: expected a non-empty list of integers, got a list of 0'],
    [[{image_id: 1, ann_ids: [2, 'x'], answer: 'a'}], '[0].ann_ids[1]: not an integer: expected an integer, got "x"'],
    [{image_id: 1, ann_id: 2}, 'answer: required: expected a string'],
    [{image_id: 1, ann_id: 2, answer: ['<seg>']}, 'answer: not text: expected a string, got a list of 1'],
    [{image_id: 1, ann_id: 2, answer: 'a', refinement: 3}, 'refinement: not text: expected a string, got 3'],
    [{image_id: 1, ann_id: 2, answer: 'a', task: 'mask'}, 'task: unknown task: expected one of seg, box, point, multi, refine, got "mask"'],
    [
      {image_id: 1, ann_id: 2, answer: 'a', refinment: 'r'},
      'refinment: unknown key (expected some of image_id, ann_id, ann_ids, answer, refinement, task)',
    ],
    [{image_id: 1, ann_id: 2, answer: 'a', gt: {}}, 'gt: not with "image_id"'],
    [{image: 'a.jpg', gt: {segmentation: [], width: 1, height: 1}, answer: 'a', ann_id: 3}, 'ann_id: not with "image"/"gt"'],
    [{image: '', gt: {}, answer: 'a'}, 'image: bad image: expected a path under --images, got ""'],
    [{image: 7, gt: {}, answer: 'a'}, 'image: bad image: expected a path under --images, got 7'],
    [{image: 'a.jpg', answer: 'a'}, 'gt: required with "image"'],
    [{image: 'a.jpg', gt: 'mask', answer: 'a'}, 'gt: bad ground truth: expected {"segmentation", "width", "height"}, got "mask"'],
    [{image: 'a.jpg', gt: {width: 2, height: 2}, answer: 'a'}, 'gt.segmentation: required'],
    [{image: 'a.jpg', gt: {segmentation: [], width: 0, height: 2}, answer: 'a'}, 'gt.width: bad size: expected a positive integer, got 0'],
    [
      {image: 'a.jpg', gt: {segmentation: [], width: 2, height: 2, size: 1}, answer: 'a'},
      'gt.size: unknown key (expected some of segmentation, width, height, bbox)',
    ],
    [
      {image: 'a.jpg', gt: {segmentation: [], width: 2, height: 2, bbox: [0, 0, -1, 1]}, answer: 'a'},
      'gt.bbox: bad box: expected [x, y, w, h] in pixels, w and h ≥ 0, got a list of 4',
    ],
    [
      {image: 'a.jpg', gt: {segmentation: [], width: 30000, height: 30000}, answer: 'a'},
      'gt.width/height: image too large: expected at most 400000000 pixels, got 30000x30000',
    ],
  ])('%j → %s', (body, message) => {
    expect(refusal(body)).toEqual({status: 400, message})
  })

  it('more samples than --max-samples: 413', () => {
    const sample = {image_id: 1, ann_id: 2, answer: 'a'}
    expect(refusal([sample, sample, sample], 2)).toEqual({status: 413, message: '3 samples in one request: at most 2 (--max-samples)'})
  })

  it('more objects than --max-objects in a sample, or than --max-request-objects in a request: 413, before any is looked at', () => {
    const seg = {segmentation: [[0, 0, 1, 0, 1, 1]], width: 4, height: 3}
    expect(refusal({image_id: 1, ann_ids: [1, 2, 'x', 4], answer: 'a'})).toEqual({
      status: 413,
      message: 'ann_ids: 4 objects in one sample: at most 3 (--max-objects)',
    })
    expect(
      refusal([
        {image_id: 1, ann_id: 2, answer: 'a'},
        {image: 'a.jpg', gt: [seg, seg, seg, 7], answer: 'a'},
      ]),
    ).toEqual({
      status: 413,
      message: '[1].gt: 4 objects in one sample: at most 3 (--max-objects)',
    })
    expect(parse({image: 'a.jpg', gt: [seg, seg, seg], answer: 'a'}).samples[0]).toMatchObject({gt: [seg, seg, seg]})
    const three = {image_id: 1, ann_ids: [1, 2, 3], answer: 'a'}
    expect(parse([three, {image: 'a.jpg', gt: [seg, seg], answer: 'a'}]).samples).toHaveLength(2)
    expect(refusal([three, {image: 'a.jpg', gt: [seg, seg], answer: 'a'}, {image_id: 1, ann_id: 1, answer: 'a'}])).toEqual({
      status: 413,
      message: '6 objects (ann_ids, gt) in one request: at most 5 (--max-request-objects)',
    })
  })

  it('a __proto__ key is an unknown key, not a prototype', () => {
    expect(refusal(JSON.parse('{"image_id": 1, "ann_id": 2, "answer": "a", "__proto__": {"x": 1}}')).message).toMatch(
      /^__proto__: unknown key/,
    )
  })

  it('describe never recurses: a list nested 100 000 deep is "a list of 1"', () => {
    let deep: unknown[] = []
    for (let k = 0; k < 100_000; k++) deep = [deep]
    expect(describeValue(deep)).toBe('a list of 1')
    expect(describeValue('x'.repeat(100))).toBe(JSON.stringify('x'.repeat(37) + '...'))
  })
})

describe("sampleReply: eval's scores, field for field", () => {
  const base = {inter: 1, union: 2, point_hit: null} as const
  it('a seg answer with a refinement; a point answer; a failure says why', () => {
    const seg: SampleScore = {
      ...base,
      task: 'refine',
      iou: 0.5,
      box_iou: null,
      format_ok: true,
      refined: {...base, iou: 0.75, box_iou: 0.25, format_ok: true, offset_acc: 0.5, offsets_right: 1, offsets_total: 2},
    }
    expect(sampleReply(seg)).toEqual({
      task: 'refine',
      iou: 0.5,
      box_iou: null,
      format_ok: true,
      refined: {iou: 0.75, box_iou: 0.25, format_ok: true, offset_acc: 0.5},
    })
    expect(sampleReply({...base, task: 'point', iou: null, box_iou: null, point_hit: true, format_ok: true})).toEqual({
      task: 'point',
      iou: null,
      box_iou: null,
      format_ok: true,
      point_hit: true,
    })
    expect(sampleReply({...base, task: 'seg', iou: 0, box_iou: null, format_ok: false, failure: 'no_tokens', detail: 'x'})).toEqual({
      task: 'seg',
      iou: 0,
      box_iou: null,
      format_ok: false,
      failure: 'no_tokens',
    })
  })
})
