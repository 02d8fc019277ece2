import {describe, expect, it} from 'vitest'
import {type EvalLine, summariseEval} from '../../../src/core/eval/summary.js'
import {formatEvalTable} from '../../../src/core/eval/table.js'

function line(split: string, task: EvalLine['task'], s: Partial<EvalLine>): EvalLine {
  return {
    line: 1,
    image: 'a.jpg',
    grid: 16,
    image_id: 1,
    ann_ids: [1],
    split,
    task,
    answer: '',
    objects: [],
    iou: null,
    inter: null,
    union: null,
    box_iou: null,
    point_hit: null,
    format_ok: true,
    ...s,
  }
}

describe('summariseEval', () => {
  const lines = [
    line('val', 'seg', {iou: 0.5, inter: 50, union: 100}),
    line('val', 'seg', {iou: 1, inter: 300, union: 300}),
    line('val', 'seg', {iou: 0, inter: 0, union: 100, format_ok: false, failure: 'parse_error'}),
    line('testA', 'box', {box_iou: 0.5}),
    line('testA', 'box', {box_iou: 0.49}),
    line('testA', 'point', {point_hit: true}),
    // refine samples' first answers are the simulated previous predictions: given to the model, as eval marks them
    line('testA', 'refine', {
      answer_from: 'data',
      iou: 0.2,
      inter: 20,
      union: 100,
      refined: {
        iou: 0.6,
        inter: 60,
        union: 100,
        box_iou: null,
        point_hit: null,
        format_ok: true,
        offset_acc: 0.75,
        offsets_right: 3,
        offsets_total: 4,
      },
    }),
    line('testA', 'refine', {
      answer_from: 'data',
      iou: 0.4,
      inter: 40,
      union: 100,
      refined: {iou: 0, inter: 0, union: 100, box_iou: null, point_hit: null, format_ok: false, failure: 'refinement_mismatch'},
    }),
  ]
  const s = summariseEval(lines)

  it('gIoU is the mean IoU, cIoU the summed intersections over the summed unions, failures counting 0', () => {
    expect(s.by_split.val.giou).toBeCloseTo(0.5, 6)
    expect(s.by_split.val.ciou).toBeCloseTo(350 / 500, 6)
    // the model's mask answers are val's three seg answers: the refine answers were given to it
    expect(s.giou).toBeCloseTo((0.5 + 1 + 0) / 3, 6)
    expect(s.ciou).toBeCloseTo(350 / 500, 6)
    expect(s).toMatchObject({samples: 8, failed: 1, mask_samples: 3, answers_from_data: 2, failure_reasons: {parse_error: 1}})
    expect(s.by_split.testA).toMatchObject({samples: 5, mask_samples: 0, giou: null, answers_from_data: 2})
  })

  it('scores the answers given to the model apart, as inputs: what the refinement started from', () => {
    expect(s.inputs).toMatchObject({samples: 2, failed: 0, mask_samples: 2, giou: 0.3, ciou: 0.3})
    expect(Object.keys(s.inputs!.by_task)).toEqual(['refine'])
    expect(summariseEval(lines.slice(0, 6)).inputs).toBeUndefined()
  })

  it('Acc@0.5 takes IoU ≥ 0.5 as a hit; point accuracy over point answers only', () => {
    expect(s.box_acc50).toBe(0.5)
    expect(s.by_task.box).toMatchObject({samples: 2, box_samples: 2, box_acc50: 0.5, giou: null})
    expect(s.point_acc).toBe(1)
    expect(s.by_split.testA.by_task.point).toMatchObject({point_samples: 1, point_acc: 1})
    expect(s.by_split.val.box_acc50).toBeNull()
  })

  it('refined figures over the samples with a refinement, offset_acc pooled over their tokens', () => {
    expect(s.refined).toMatchObject({samples: 2, failed: 1, giou: 0.3, ciou: 0.3, offset_acc: 0.75, offset_tokens: 4})
    expect(s.refined?.failure_reasons).toEqual({refinement_mismatch: 1})
    expect(Object.keys(s.refined!.by_split)).toEqual(['testA'])
  })

  it("prints splits as columns in the papers' order, ×100 with one decimal", () => {
    const table = formatEvalTable(s).split('\n')
    expect(table[0].split(/\s+/)).toEqual(['metric', 'val', 'testA', 'all'])
    expect(table.find((l) => l.startsWith('RES gIoU'))!.split(/\s{2,}/)).toEqual(['RES gIoU', '50.0', '–', '50.0'])
    expect(table.find((l) => l.startsWith('given answers'))!.split(/\s{2,}/)).toEqual(['given answers', '0', '2', '2'])
    expect(table.find((l) => l.startsWith('REC Acc@0.5'))!.split(/\s{2,}/)).toEqual(['REC Acc@0.5', '–', '50.0', '50.0'])
    expect(table.find((l) => l.startsWith('offset acc'))!.split(/\s{2,}/)).toEqual(['offset acc', '–', '75.0', '75.0'])
  })

  it('has no refined part without refinements, and no given-answers row when the model wrote every answer', () => {
    const plain = summariseEval(lines.slice(0, 3))
    expect(plain.refined).toBeUndefined()
    expect(formatEvalTable(plain)).not.toMatch(/given answers/)
  })
})
