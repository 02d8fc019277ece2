import {describe, expect, it} from 'vitest'
import {escapeXml, fitText, layoutFor, maskToFillRgba, maskToOutlinePath, pictureToSvg} from '../../../src/core/draw/draw.js'
import {cropMasksToMask} from '../../../src/core/masks/crop-mask.js'
import type {Mask} from '../../../src/core/masks/mask.js'

const mask = (rows: string[]): Mask => ({
  width: rows[0].length,
  height: rows.length,
  data: Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0)),
})

describe('layoutFor', () => {
  it.each([
    [640, 480, 640, [640, 480, 1]],
    [640, 480, 1024, [1024, 768, 1.6]],
    [480, 640, 1024, [768, 1024, 1.6]],
    [500, 375, 200, [200, 150, 0.4]],
  ])('%ix%i at long side %i', (w, h, side, [ow, oh, s]) => {
    const l = layoutFor(w, h, side, 2)
    expect([l.width, l.height]).toEqual([ow, oh])
    expect(l.sx).toBeCloseTo(s, 6)
    expect(l.sy).toBeCloseTo(s, 6)
    expect(l.fontSize).toBeGreaterThanOrEqual(11)
  })

  it('adds the legend only where it fits', () => {
    expect(layoutFor(640, 480, 1024, 3).legend).toBe(true)
    expect(layoutFor(640, 480, 320, 3).legend).toBe(false)
  })
})

describe('maskToOutlinePath', () => {
  it('traces a square as four merged edges', () => {
    const m = mask(['....', '.##.', '.##.', '....'])
    expect(maskToOutlinePath(m, 1, 1)).toBe('M1 1H3M1 3H3M1 1V3M3 1V3')
  })

  it('scales to the output and keeps holes', () => {
    const m = mask(['###', '#.#', '###'])
    const d = maskToOutlinePath(m, 2, 2)
    expect(d).toContain('M0 0H6') // top
    expect(d).toContain('M2 2H4') // the hole's top edge
    expect(d.match(/M/g)).toHaveLength(8)
  })
})

describe('masks to pixels', () => {
  it('unions crop masks into a full-size mask', () => {
    const a = {x0: 1, y0: 0, w: 2, h: 1, data: Uint8Array.of(1, 1), area: 2}
    const b = {x0: 2, y0: 1, w: 1, h: 1, data: Uint8Array.of(1), area: 1}
    expect(Array.from(cropMasksToMask([a, b], 3, 2).data)).toEqual([0, 1, 1, 0, 0, 1])
  })

  it('fills by nearest neighbour at the output scale', () => {
    const m = mask(['#.', '..'])
    const rgba = maskToFillRgba(m, layoutFor(2, 2, 4, 1))
    const alpha = (x: number, y: number) => rgba[(y * 4 + x) * 4 + 3]
    expect([alpha(0, 0), alpha(1, 1), alpha(2, 0), alpha(0, 2), alpha(3, 3)].map((a) => a > 0)).toEqual([true, true, false, false, false])
  })
})

describe('caption text', () => {
  it('escapes XML and cuts long lines with an ellipsis', () => {
    expect(escapeXml('<grid_1_2> & "x"')).toBe('&lt;grid_1_2&gt; &amp; &quot;x&quot;')
    expect(fitText('abcdef', 4)).toBe('abc…')
    expect(fitText('abc', 4)).toBe('abc')
  })

  it('puts the caption in the SVG, escaped', () => {
    const svg = pictureToSvg(
      {grid: {n: 4, width: 40, height: 40}, marks: [{cell: [1, 2]}], caption: ['cat & dog']},
      layoutFor(40, 40, 400, 1),
    )
    expect(svg).toContain('cat &amp; dog')
    expect(svg).toContain('<circle cx="150" cy="250"') // anchor (15, 25) × 10
  })
})
