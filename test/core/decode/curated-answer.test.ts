import {describe, expect, it} from 'vitest'
import {curatedAnswer, curatedRule} from '../../../src/core/decode/curated-answer.js'
import {GetokError} from '../../../src/core/errors.js'

const box = '<box><grid_1_2><grid_10_9></box>'

describe('curatedAnswer', () => {
  it('reads a record without decode as union: its points, no box', () => {
    expect(curatedAnswer({points: [[4, 3]], box}, 16)).toEqual({rule: 'union', answer: {cells: [[4, 3]]}})
    expect(curatedRule({})).toBe('union')
  })

  it('reads a box-rule record: its points, the box tokens and their moves, in either spelling', () => {
    const record = {
      points: [[4, 3]] as [number, number][],
      box,
      decode: 'box' as const,
      box_offsets: '<offset><box><OFF_-1_0><OFF_0_1></box></offset>',
    }
    const want = {
      rule: 'box',
      answer: {
        cells: [[4, 3]],
        box: [
          [1, 2],
          [10, 9],
        ],
        boxMoves: [
          [-1, 0],
          [0, 1],
        ],
      },
    }
    expect(curatedAnswer(record, 16)).toEqual(want)
    const paper = {
      ...record,
      box: '<box><grid_{1,2}><grid_{10,9}></box>',
      box_offsets: '<offset><box><OFF_{-1,0}><OFF_{0,1}></box></offset>',
    }
    expect(curatedAnswer(paper, 16)).toEqual(want)
    expect(curatedAnswer({...record, points: []}, 16).answer.cells).toEqual([])
  })

  it('names the file, record and field of what it cannot use', () => {
    const where = {file: 'c.jsonl', record: 'line 3'}
    expect(() => curatedAnswer({points: [], box, decode: 'hull' as never}, 16, where)).toThrow(
      /c\.jsonl, line 3, field "decode": unknown decode rule: expected union or box, got "hull"/,
    )
    expect(() => curatedAnswer({points: [], box, decode: 'box'}, 16, where)).toThrow(
      /field "box_offsets": a box-rule record needs its box offsets/,
    )
    const deleted = {points: [], box, decode: 'box' as const, box_offsets: '<offset><box><DELETE><OFF_0_0></box></offset>'}
    expect(() => curatedAnswer(deleted, 16, where)).toThrow(GetokError)
    expect(() => curatedAnswer({...deleted, box: '<seg><grid_1_1></seg>'}, 16, where)).toThrow(/field "box": not a box/)
  })
})
