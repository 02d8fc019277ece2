import {beforeAll, describe, expect, it} from 'vitest'
import {type Rgb, isBlue, isRed, readPng} from '../helpers/png.js'
import {type LoadedImage, loadImage} from '../../src/adapters/images.js'
import {composeSheet, photoRgb, renderPicture} from '../../src/adapters/render.js'
import {COLOURS, type GridMark, type Layout, type Picture, markSizes} from '../../src/core/draw/draw.js'
import {type GridFrame, cellToAnchor, landingPoint} from '../../src/core/grid/grid.js'
import type {Mask} from '../../src/core/masks/mask.js'

// A real COCO photo (640×480), real sharp and librsvg; the decoded mask is a
// rectangle here (no SAM), so every expected pixel is known exactly.
const IMAGE = 'fixtures/sample/images/000000025560.jpg'
const N = 32

function rectMask(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Mask {
  const data = new Uint8Array(width * height)
  for (let y = y0; y < y1; y++) data.fill(1, y * width + x0, y * width + x1)
  return {width, height, data}
}

/** Output pixel of an image point. */
const out = ([x, y]: [number, number], layout: Layout): [number, number] => [x * layout.sx, y * layout.sy]

describe('renderPicture on a real photo', () => {
  let image: LoadedImage
  let grid: GridFrame
  const marks: GridMark[] = [
    {cell: [4, 6]},
    {cell: [31, 31]},
    {cell: [10, 20], offset: [1, 0]},
    {cell: [20, 20], offset: [0, 1]},
    {cell: [24, 8], offset: [-1, -1]},
    {cell: [6, 26], offset: 'delete'},
    {cell: [14, 26], offset: [0, 0]},
  ]

  beforeAll(async () => {
    image = await loadImage(IMAGE)
    grid = {n: N, width: image.width, height: image.height}
  })

  it('has the photo size (scaled to the long side) plus the caption band', async () => {
    const picture: Picture = {grid, marks, caption: ['image 25560 · ann 1', 'two']}
    const natural = await renderPicture(image, picture, {longSide: 640})
    expect([natural.layout.width, natural.layout.height]).toEqual([640, 480])
    const big = await renderPicture(image, picture, {longSide: 1024})
    expect([big.layout.width, big.layout.height]).toEqual([1024, 768])
    for (const r of [natural, big]) {
      const png = readPng(r.png)
      expect([png.width, png.height]).toEqual([r.layout.width, r.layout.height + r.layout.captionHeight])
      expect(r.layout.captionHeight).toBeGreaterThan(2 * r.layout.fontSize)
    }
  })

  for (const longSide of [640, 1024]) {
    it(`puts red dots on the anchors and offsets where the tokens say (long side ${longSide})`, async () => {
      const r = await renderPicture(image, {grid, marks, caption: ['x']}, {longSide})
      const png = readPng(r.png)
      for (const {cell} of marks) expect(isRed(png.at(...out(cellToAnchor(cell[0], cell[1], grid), r.layout))), `dot ${cell}`).toBe(true)
      for (const m of marks.filter((m) => Array.isArray(m.offset) && (m.offset[0] !== 0 || m.offset[1] !== 0))) {
        const a = out(cellToAnchor(m.cell[0], m.cell[1], grid), r.layout)
        const l = out(landingPoint(m.cell[0], m.cell[1], m.offset as [number, number], grid), r.layout)
        const blueAt = (t: number) => png.near(a[0] + t * (l[0] - a[0]), a[1] + t * (l[1] - a[1]), isBlue)
        // blue from past the dot up to the landing point, nothing blue on the other side of the anchor
        for (const t of [0.6, 0.7, 0.8]) expect(blueAt(t), `${m.cell} t=${t}`).toBe(true)
        for (const t of [-0.8, -1]) expect(blueAt(t), `${m.cell} t=${t}`).toBe(false)
      }
    })
  }

  it('crosses out <DELETE> points and rings <OFF_0_0> points in blue', async () => {
    const r = await renderPicture(image, {grid, marks, caption: ['x']}, {longSide: 1024})
    const png = readPng(r.png)
    const cell = (r.layout.sx * image.width) / N
    const [dx, dy] = out(cellToAnchor(6, 26, grid), r.layout)
    for (const [sx, sy] of [
      [1, 1],
      [-1, 1],
      [1, -1],
      [-1, -1],
    ])
      expect(png.near(dx + sx * 0.2 * cell, dy + sy * 0.2 * cell, isBlue), `${sx},${sy}`).toBe(true)
    const [rx, ry] = out(cellToAnchor(14, 26, grid), r.layout)
    const {rOffset, stroke} = markSizes(grid, r.layout)
    expect(isBlue(png.at(rx + rOffset + stroke + 1, ry))).toBe(true)
    expect(isBlue(png.at(rx, ry + rOffset + stroke + 1))).toBe(true)
  })

  it('flips dv with flip-v: <OFF_0_1> points up', async () => {
    const down: GridMark[] = [{cell: [20, 20], offset: [0, 1]}]
    const r = await renderPicture(image, {grid, marks: down, flipV: true, caption: ['x']}, {longSide: 1024})
    const png = readPng(r.png)
    const [ax, ay] = out(cellToAnchor(20, 20, grid), r.layout)
    const half = (r.layout.sy * image.height) / N / 2
    expect(isBlue(png.at(ax, ay - 0.75 * half))).toBe(true)
    expect(isBlue(png.at(ax, ay + 0.75 * half))).toBe(false)
  })

  it('tints the decoded mask and leaves the photo elsewhere', async () => {
    // rectangle over cells 8..15 × 4..11 (image pixels 160..320 × 60..180)
    const decoded = rectMask(image.width, image.height, 160, 60, 320, 180)
    const r = await renderPicture(image, {grid, marks: [], decoded, caption: ['x']}, {longSide: 1024})
    const png = readPng(r.png)
    const photo = await photoRgb(image, r.layout)
    const base = (X: number, Y: number): Rgb => {
      const k = (Y * r.layout.width + X) * 3
      return [photo[k], photo[k + 1], photo[k + 2]]
    }
    const a = Math.round(COLOURS.fillAlpha * 255) / 255
    let tinted = 0
    let untouched = 0
    for (let j = 0; j < N; j++) {
      for (let i = 0; i < N; i++) {
        const [x, y] = cellToAnchor(i, j, grid)
        const [X, Y] = out([x, y], r.layout).map(Math.floor)
        const got = png.at(X, Y)
        const was = base(X, Y)
        const inside = x >= 160 && x < 320 && y >= 60 && y < 180
        const expected = inside ? (was.map((v, c) => v * (1 - a) + COLOURS.fill[c] * a) as Rgb) : was
        for (let c = 0; c < 3; c++) expect(Math.abs(got[c] - expected[c]), `cell ${i},${j} channel ${c}`).toBeLessThanOrEqual(3)
        if (inside) tinted++
        else untouched++
      }
    }
    expect(tinted).toBe(8 * 8)
    expect(untouched).toBe(N * N - 64)
  })

  it('writes the caption as light text on the dark band', async () => {
    const r = await renderPicture(
      image,
      {grid, marks: [], caption: ['image 25560 · ann 48152 · cat', '1 token · IoU 0.9119']},
      {longSide: 640},
    )
    const png = readPng(r.png)
    let light = 0
    let dark = 0
    for (let y = r.layout.height; y < r.layout.height + r.layout.captionHeight; y++) {
      for (let x = 0; x < 300; x++) {
        const [red, g, b] = png.at(x, y)
        if (red > 200 && g > 200 && b > 200) light++
        if (red < 40 && g < 40 && b < 40) dark++
      }
    }
    expect(light).toBeGreaterThan(300) // glyph strokes
    expect(dark).toBeGreaterThan(light) // on an opaque band
  })

  it('lays pictures on a contact sheet in rows', async () => {
    const tiles = await Promise.all([0, 1, 2].map(() => renderPicture(image, {grid, marks, caption: ['x']}, {longSide: 200})))
    const sheet = await composeSheet(tiles, {columns: 2, gap: 4})
    const png = readPng(sheet.png)
    expect(png.width).toBe(4 + 2 * (tiles[0].width + 4))
    expect(png.height).toBe(4 + 2 * (tiles[0].height + 4))
    // the third tile starts the second row: its first dot is where the first tile's is, one row lower
    const [x, y] = out(cellToAnchor(4, 6, grid), tiles[0].layout)
    expect(isRed(png.at(4 + x, 4 + y))).toBe(true)
    expect(isRed(png.at(4 + x, 4 + tiles[0].height + 4 + y))).toBe(true)
  })
})
