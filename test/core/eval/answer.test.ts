import {describe, expect, it} from 'vitest'
import {pairRefinement, parseAnswer, parseRefinement, tokenSpan} from '../../../src/core/eval/answer.js'
import {inferTask} from '../../../src/core/eval/plan.js'

describe('parseAnswer', () => {
  it.each([
    [
      '<seg><grid_3_1><grid_4_1></seg>',
      [
        {
          cells: [
            [3, 1],
            [4, 1],
          ],
          seg: true,
        },
      ],
    ],
    [
      '<seg><grid_{3,1}><grid_{4, 1}></seg>',
      [
        {
          cells: [
            [3, 1],
            [4, 1],
          ],
          seg: true,
        },
      ],
    ],
    ['<grid_7_2>', [{cells: [[7, 2]]}]],
    [
      '<box><grid_1_2><grid_9_7></box>',
      [
        {
          box: [
            [1, 2],
            [9, 7],
          ],
          cells: [],
        },
      ],
    ],
    [
      '<box><grid_{1,2}><grid_{9,7}></box><seg><grid_4_3></seg>',
      [
        {
          box: [
            [1, 2],
            [9, 7],
          ],
          cells: [[4, 3]],
          seg: true,
        },
      ],
    ],
    [
      '<seg><grid_1_1></seg>, <seg><grid_{2,2}><grid_3_3></seg>',
      [
        {cells: [[1, 1]], seg: true},
        {
          cells: [
            [2, 2],
            [3, 3],
          ],
          seg: true,
        },
      ],
    ],
    // words of an answer template and a chat template's end marker around the tokens
    ['Sure. <seg><grid_5_5></seg><|im_end|>', [{cells: [[5, 5]], seg: true}]],
    ['<seg></seg>', [{cells: [], seg: true}]],
  ])('%s', (text, objects) => {
    const parsed = parseAnswer(text, 16)
    expect(parsed).toEqual({ok: true, value: {objects}})
  })

  it.each([
    ['', 'empty'],
    ['   \n', 'empty'],
    ['I cannot see it.', 'no_tokens'],
    ['<seg><grid_1_1>', 'parse_error'],
    ['<seg><grid_1_1> and <grid_2_2></seg>', 'parse_error'],
    ['<box><grid_1_1></box>', 'parse_error'],
    ['<seg><grid_foo></seg>', 'parse_error'],
    ['<pl><grid_1_1><grid_2_1></pl>', 'parse_error'],
    ['<offset><seg><OFF_0_0></seg></offset>', 'parse_error'],
    ['<seg><grid_16_0></seg>', 'out_of_grid'],
    ['<seg><grid_{0,99}></seg>', 'out_of_grid'],
    ['<seg><grid_-1_0></seg>', 'out_of_grid'],
    ['<box><grid_{0,-2}><grid_3_3></box>', 'out_of_grid'],
  ])('%j fails as %s', (text, reason) => {
    const parsed = parseAnswer(text, 16)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) {
      expect(parsed.failure).toBe(reason)
      expect(parsed.detail.length).toBeGreaterThan(0)
    }
  })

  it('takes offsets written in the answer itself as its refinement', () => {
    const parsed = parseAnswer('<seg><grid_1_1><grid_2_1></seg><offset><seg><OFF_1_0><DELETE></seg></offset>', 16)
    expect(parsed).toEqual({
      ok: true,
      value: {
        objects: [
          {
            cells: [
              [1, 1],
              [2, 1],
            ],
            seg: true,
          },
        ],
        inlineRefinement: [{offsets: [[1, 0], 'delete']}],
      },
    })
  })
})

describe('parseRefinement and pairRefinement', () => {
  it('reads seg and box offsets per object', () => {
    const r = parseRefinement(
      '<offset><box><OFF_-1_0><OFF_1_1></box></offset><offset><seg><OFF_0_0><DELETE></seg></offset>, ' +
        '<offset><seg><OFF_{0,1}></seg></offset>',
      16,
    )
    expect(r).toEqual({
      ok: true,
      value: [
        {
          offsets: [[0, 0], 'delete'],
          boxMoves: [
            [-1, 0],
            [1, 1],
          ],
        },
        {offsets: [[0, 1]]},
      ],
    })
  })

  it.each([
    ['', 'refinement_parse_error'],
    ['<seg><grid_1_1></seg>', 'refinement_parse_error'],
    ['<offset><seg><OFF_2_0></seg></offset>', 'refinement_parse_error'],
    ['<offset><box><OFF_0_0><DELETE></box></offset>', 'refinement_parse_error'],
  ])('%j fails as %s', (text, reason) => {
    const r = parseRefinement(text, 16)
    expect(r.ok ? null : r.failure).toBe(reason)
  })

  it('refuses offsets that do not pair one to one with the grid tokens', () => {
    const objects = [{cells: [[1, 1] as [number, number], [2, 2] as [number, number]]}]
    expect(pairRefinement(objects, [{offsets: [[0, 0]]}])).toMatchObject({ok: false, failure: 'refinement_mismatch'})
    expect(pairRefinement(objects, [{offsets: [[0, 0], 'delete']}, {offsets: []}])).toMatchObject({
      ok: false,
      failure: 'refinement_mismatch',
    })
    expect(
      pairRefinement(objects, [
        {
          offsets: [[0, 0], 'delete'],
          boxMoves: [
            [0, 0],
            [0, 0],
          ],
        },
      ]),
    ).toMatchObject({ok: false})
    expect(pairRefinement(objects, [{offsets: [[0, 0], 'delete']}])).toEqual({ok: true, value: [{offsets: [[0, 0], 'delete']}]})
  })
})

describe('tokenSpan and inferTask', () => {
  it('cuts the text around the tokens', () => {
    expect(tokenSpan('A previous segmentation of the cat is <seg><grid_1_1></seg>. Please refine it.')).toBe('<seg><grid_1_1></seg>')
    expect(tokenSpan('nothing here')).toBe('')
  })

  it.each([
    ['<seg><grid_1_1></seg>', 'seg'],
    ['<seg><grid_1_1></seg>, <seg><grid_5_5></seg>', 'multi'],
    ['<box><grid_1_1><grid_4_4></box>', 'box'],
    ['<box><grid_1_1><grid_4_4></box><seg><grid_2_2></seg>', 'seg'],
    ['<grid_3_3>', 'point'],
    ['garbage', 'seg'],
  ])('%s is a %s answer', (text, task) => {
    expect(inferTask(text, 16)).toBe(task)
  })
})
