import {describe, expect, it} from 'vitest'
import {
  TokenParseError,
  boxToTokens,
  cellsToSegTokens,
  gridToken,
  joinGroups,
  offsetToken,
  offsetsToTokens,
  parseTokens,
  polylineToTokens,
  vocabulary,
} from '../../../src/core/grid/tokens.js'
import type {Cell} from '../../../src/core/grid/grid.js'

describe('token spelling', () => {
  it('writes the plain and the paper spelling', () => {
    expect(gridToken(4, 3)).toBe('<grid_4_3>')
    expect(gridToken(4, 3, 'paper')).toBe('<grid_{4,3}>')
    expect(offsetToken([-1, 0])).toBe('<OFF_-1_0>')
    expect(offsetToken([-1, 0], 'paper')).toBe('<OFF_{-1,0}>')
    expect(offsetToken('delete', 'paper')).toBe('<DELETE>')
  })

  it('has 1034 distinct tokens at n = 32, none with a comma or space in plain style', () => {
    const v = vocabulary(32)
    expect(v.length).toBe(1034)
    expect(new Set(v).size).toBe(1034)
    expect(v.some((t) => /[,\s]/.test(t))).toBe(false)
    expect(vocabulary(16).length).toBe(256 + 10)
    expect(vocabulary(64, 'paper').length).toBe(4096 + 10)
  })

  it('writes masks in raster order and boxes as two corners', () => {
    expect(
      cellsToSegTokens(
        [
          [4, 1],
          [3, 1],
          [2, 2],
        ],
        32,
      ),
    ).toBe('<seg><grid_3_1><grid_4_1><grid_2_2></seg>')
    expect(boxToTokens([1, 2], [9, 7])).toBe('<box><grid_1_2><grid_9_7></box>')
    expect(offsetsToTokens('seg', [[0, 0], [1, 0], 'delete'])).toBe('<offset><seg><OFF_0_0><OFF_1_0><DELETE></seg></offset>')
  })
})

describe('parsing', () => {
  const cells: Cell[] = [
    [0, 0],
    [31, 0],
    [5, 7],
    [31, 31],
  ]

  it.each(['plain', 'paper'] as const)('round-trips every group kind in %s style', (style) => {
    const text = joinGroups([
      cellsToSegTokens(cells, 32, style),
      boxToTokens([1, 2], [9, 7], style),
      polylineToTokens(
        [
          [3, 3],
          [1, 1],
          [2, 9],
        ],
        style,
      ),
      gridToken(6, 6, style),
      offsetsToTokens('seg', [[0, 0], [-1, 1], 'delete', [1, -1]], style),
    ])
    const groups = parseTokens(text, 32)
    expect(groups.map((g) => g.kind)).toEqual(['seg', 'box', 'pl', 'point', 'seg'])
    expect(groups[0].cells).toEqual(cells)
    expect(groups[1].cells).toEqual([
      [1, 2],
      [9, 7],
    ])
    expect(groups[2].cells).toEqual([
      [3, 3],
      [1, 1],
      [2, 9],
    ])
    expect(groups[3].cells).toEqual([[6, 6]])
    expect(groups[4].offsets).toEqual([[0, 0], [-1, 1], 'delete', [1, -1]])
  })

  it('accepts both spellings mixed and ignores whitespace', () => {
    expect(parseTokens('<seg> <grid_{1, 2}>\n<grid_3_4> </seg>')[0].cells).toEqual([
      [1, 2],
      [3, 4],
    ])
  })

  it.each([
    ['<seg><grid_1_2></box>', /expected <\/seg>/],
    ['<seg><grid_40_2></seg>', /out of range/],
    ['<seg><grid_1_x></seg>', /unknown token/],
    ['<box><grid_1_2></box>', /exactly 2/],
    ['<offset><seg><OFF_2_0></seg></offset>', /outside/],
    ['hello <grid_1_1>', /character 0/],
    ['<seg><grid_1_1>', /expected <\/seg>/],
  ])('rejects %s with the position', (text, message) => {
    expect(() => parseTokens(text, 32)).toThrow(TokenParseError)
    expect(() => parseTokens(text, 32)).toThrow(message)
  })
})
