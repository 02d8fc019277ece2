import {describe, expect, it} from 'vitest'
import {
  COLOURS,
  type PromptBox,
  escapeXml,
  fitText,
  layoutFor,
  maskToFillRgba,
  maskToOutlinePath,
  pictureToSvg,
} from '../../../src/core/draw/draw.js'
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

describe('prompt box (box rule)', () => {
  const grid = {n: 4, width: 40, height: 40}
  const layout = layoutFor(40, 40, 400, 1)
  // box tokens (0, 0) and (3, 3): anchors (5, 5) and (35, 35); the first corner moved by <OFF_-1_0> to (0, 5)
  const promptBoxes = [
    {
      anchors: [
        [5, 5],
        [35, 35],
      ],
      corners: [
        [0, 5],
        [35, 35],
      ],
    },
  ] as const
  const boxes = () => promptBoxes.map((b) => ({anchors: [...b.anchors], corners: [...b.corners]}) as PromptBox)
  const picture = (withBox: boolean, side = 400) =>
    pictureToSvg({grid, marks: [], caption: ['x'], ...(withBox ? {promptBoxes: boxes()} : {})}, layoutFor(40, 40, side, 1))

  it('draws the rectangle SAM was given, between the moved corners, and marks the anchors', () => {
    const svg = picture(true)
    // ×10 on the output: the rectangle from (0, 50) to (350, 350), in the prompt box's colour
    expect(svg).toContain(`<rect x="0" y="50" width="350" height="300" stroke="${COLOURS.promptBox}"`)
    // the moved corner's arrow ends on the corner (its head's tip), the unmoved one gets a ring around its anchor
    expect(svg).toMatch(/<polygon points="0,50 /)
    expect(svg).toMatch(/<circle cx="350" cy="350" r="[\d.]+" fill="none" stroke="#0050ff"/)
    // red squares on both anchors
    expect(svg.match(new RegExp(`<rect [^>]*fill="${COLOURS.dot}"`, 'g'))).toHaveLength(2)
    // the key names it where a key fits
    expect(picture(true, 800)).toContain('prompt box')
  })

  it('leaves a picture without prompt boxes as it was: no box, no key entry', () => {
    const svg = picture(false, 800)
    expect(svg).not.toContain(COLOURS.promptBox)
    expect(svg).not.toContain('prompt box')
    expect(pictureToSvg({grid, marks: [], caption: ['x'], promptBoxes: []}, layout)).not.toContain(COLOURS.promptBox)
  })
})
