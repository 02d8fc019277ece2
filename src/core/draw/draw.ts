/**
 * A token set as a picture, in pure code: the marks as an SVG overlay and the
 * decoded mask as an RGBA overlay, both at the output size. The adapter
 * (adapters/render.ts) lays them over the photo.
 *
 * Coordinates: marks are given in image pixels (SPEC §1, continuous, pixel k
 * spans [k, k+1)); the output scales them by sx = outWidth/W, sy = outHeight/H.
 * The photo fills the top outWidth×outHeight of the canvas; the caption band
 * lies below it.
 *
 *   red dot       a grid token, centred on its anchor ((i+0.5)·W/n, (j+0.5)·H/n)
 *   blue arrow    its offset, from the anchor to the landing point
 *   blue ring     the offset <OFF_0_0> (the point stays)
 *   blue cross    <DELETE> (the point is dropped before decoding)
 *   yellow line   the ground-truth outline
 *   green fill    the mask decoded from the tokens (SPEC §4)
 *   faint lines   the grid lattice (cell edges)
 */
import {type Cell, type GridFrame, cellToAnchor, landingPoint} from '../grid/grid.js'
import type {Mask} from '../masks/mask.js'
import type {CropMask} from '../masks/crop-mask.js'
import type {OffsetTarget} from '../grid/tokens.js'

export interface GridMark {
  cell: Cell
  /** the point's offset, when the picture shows a refinement round */
  offset?: OffsetTarget
}

export interface Picture {
  grid: GridFrame
  /** dv = +1 moves up instead of down (SPEC §1 flag) */
  flipV?: boolean
  marks: GridMark[]
  /** box groups, drawn as a dashed rectangle between the corner anchors */
  boxes?: [Cell, Cell][]
  /** polyline groups, drawn through the anchors in order */
  polylines?: Cell[][]
  decoded?: Mask
  gt?: Mask
  caption: string[]
}

export interface Layout {
  /** photo area, output pixels */
  width: number
  height: number
  sx: number
  sy: number
  fontSize: number
  captionHeight: number
  /** a key to the marks under the caption; only where it fits */
  legend: boolean
}

export const COLOURS = {
  dot: '#ff0000',
  offset: '#0050ff',
  gt: '#ffd500',
  fill: [0, 200, 110] as const,
  fillAlpha: 0.42,
  band: '#161616',
  text: '#ffffff',
  dim: '#b8b8b8',
}

const FONT = 'DejaVu Sans, Verdana, Arial, Helvetica, sans-serif'
/** average advance of DejaVu Sans, in em, a little generous for digits */
const CHAR_EM = 0.58

const LEGEND_MIN_WIDTH = 600

/** Output size for a picture whose long side is `longSide` pixels. */
export function layoutFor(width: number, height: number, longSide: number, captionLines: number): Layout {
  const scale = longSide / Math.max(width, height)
  const w = Math.max(1, Math.round(width * scale))
  const h = Math.max(1, Math.round(height * scale))
  const fontSize = Math.min(18, Math.max(11, Math.round(w / 52)))
  const legend = w >= LEGEND_MIN_WIDTH
  const captionHeight = Math.round(fontSize * (0.9 + 1.4 * (captionLines + (legend ? 1 : 0))))
  return {width: w, height: h, sx: w / width, sy: h / height, fontSize, captionHeight, legend}
}

/** Translucent fill of `mask` at the output size (nearest neighbour), RGBA, row-major. */
export function maskToFillRgba(mask: Mask, layout: Layout): Uint8Array {
  const {width: W, height: H} = layout
  const out = new Uint8Array(W * H * 4)
  const [r, g, b] = COLOURS.fill
  const a = Math.round(COLOURS.fillAlpha * 255)
  const srcX = new Int32Array(W)
  for (let X = 0; X < W; X++) srcX[X] = Math.min(mask.width - 1, Math.floor((X + 0.5) / layout.sx))
  for (let Y = 0; Y < H; Y++) {
    const row = Math.min(mask.height - 1, Math.floor((Y + 0.5) / layout.sy)) * mask.width
    for (let X = 0; X < W; X++) {
      if (!mask.data[row + srcX[X]]) continue
      out.set([r, g, b, a], (Y * W + X) * 4)
    }
  }
  return out
}

/**
 * The mask's boundary as an SVG path of horizontal and vertical pixel edges,
 * scaled to the output. Edge runs are merged, so a straight side is one segment.
 */
export function maskToOutlinePath(mask: Mask, sx: number, sy: number): string {
  const {width: W, height: H, data} = mask
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < W && y < H ? data[y * W + x] : 0)
  const f = (v: number) => String(Math.round(v * 10) / 10)
  const parts: string[] = []
  for (let y = 0; y <= H; y++) {
    let start = -1
    for (let x = 0; x <= W; x++) {
      const edge = x < W && at(x, y - 1) !== at(x, y)
      if (edge && start < 0) start = x
      if (!edge && start >= 0) {
        parts.push(`M${f(start * sx)} ${f(y * sy)}H${f(x * sx)}`)
        start = -1
      }
    }
  }
  for (let x = 0; x <= W; x++) {
    let start = -1
    for (let y = 0; y <= H; y++) {
      const edge = y < H && at(x - 1, y) !== at(x, y)
      if (edge && start < 0) start = y
      if (!edge && start >= 0) {
        parts.push(`M${f(x * sx)} ${f(start * sy)}V${f(y * sy)}`)
        start = -1
      }
    }
  }
  return parts.join('')
}

/** The whole overlay: lattice, GT outline, marks and caption band, as one SVG document. */
export function pictureToSvg(picture: Picture, layout: Layout): string {
  const {width, height, captionHeight} = layout
  const body = [
    latticeSvg(picture.grid, layout),
    picture.gt ? outlineSvg(picture.gt, layout) : '',
    ...(picture.boxes ?? []).map((box) => boxSvg(box, picture.grid, layout)),
    ...(picture.polylines ?? []).map((path) => polylineSvg(path, picture.grid, layout)),
    marksSvg(picture, layout),
    captionSvg(picture.caption, layout),
  ]
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + captionHeight}" ` +
    `viewBox="0 0 ${width} ${height + captionHeight}">${body.join('')}</svg>`
  )
}

// ---- marks -----------------------------------------------------------------

interface MarkSizes {
  /** dot radius */
  r: number
  /** dot radius of a point with an offset: smaller, so the half-cell arrow stays visible */
  rOffset: number
  /** stroke width of arrows and crosses */
  stroke: number
}

/** Mark sizes follow the cell size on the output, within legible bounds. */
export function markSizes(grid: GridFrame, layout: Layout): MarkSizes {
  const cell = Math.min((layout.sx * grid.width) / grid.n, (layout.sy * grid.height) / grid.n)
  return {r: clamp(0.2 * cell, 2.5, 7), rOffset: clamp(0.16 * cell, 2, 5.5), stroke: clamp(cell / 14, 1.5, 2.5)}
}

function latticeSvg(grid: GridFrame, layout: Layout): string {
  const {width, height} = layout
  const lines: string[] = []
  for (let k = 1; k < grid.n; k++) {
    const x = num((k * width) / grid.n)
    const y = num((k * height) / grid.n)
    lines.push(`M${x} 0V${height}`, `M0 ${y}H${width}`)
  }
  return `<path d="${lines.join('')}" stroke="#ffffff" stroke-opacity="0.2" stroke-width="1" fill="none"/>`
}

function outlineSvg(gt: Mask, layout: Layout): string {
  const d = maskToOutlinePath(gt, layout.sx, layout.sy)
  const w = clamp(layout.width / 400, 1.5, 3)
  return (
    `<path d="${d}" stroke="#000000" stroke-opacity="0.55" stroke-width="${num(w + 2)}" stroke-linecap="square" fill="none"/>` +
    `<path d="${d}" stroke="${COLOURS.gt}" stroke-width="${num(w)}" stroke-linecap="square" fill="none"/>`
  )
}

function boxSvg([a, b]: [Cell, Cell], grid: GridFrame, layout: Layout): string {
  const [x0, y0] = toOut(cellToAnchor(a[0], a[1], grid), layout)
  const [x1, y1] = toOut(cellToAnchor(b[0], b[1], grid), layout)
  return (
    `<rect x="${num(Math.min(x0, x1))}" y="${num(Math.min(y0, y1))}" width="${num(Math.abs(x1 - x0))}" height="${num(Math.abs(y1 - y0))}" ` +
    `stroke="${COLOURS.dot}" stroke-width="2" stroke-dasharray="6 4" fill="none"/>`
  )
}

function polylineSvg(path: readonly Cell[], grid: GridFrame, layout: Layout): string {
  const pts = path
    .map(([i, j]) =>
      toOut(cellToAnchor(i, j, grid), layout)
        .map(num)
        .join(','),
    )
    .join(' ')
  return `<polyline points="${pts}" stroke="${COLOURS.dot}" stroke-width="2" fill="none"/>`
}

/** Offset marks under the dots: a dot hides the start of its arrow. */
function marksSvg(picture: Picture, layout: Layout): string {
  const sizes = markSizes(picture.grid, layout)
  const dots = picture.marks.map((m) => {
    const r = m.offset === undefined ? sizes.r : sizes.rOffset
    return dotSvg(toOut(cellToAnchor(m.cell[0], m.cell[1], picture.grid), layout), r)
  })
  const offsets = picture.marks.filter((m) => m.offset !== undefined).map((m) => offsetSvg(m, picture, layout, sizes))
  return offsets.join('') + dots.join('')
}

function dotSvg([x, y]: [number, number], r: number): string {
  return `<circle cx="${num(x)}" cy="${num(y)}" r="${num(r)}" fill="${COLOURS.dot}" stroke="#ffffff" stroke-width="0.8"/>`
}

function offsetSvg(mark: GridMark, picture: Picture, layout: Layout, sizes: MarkSizes): string {
  const [i, j] = mark.cell
  const anchor = toOut(cellToAnchor(i, j, picture.grid), layout)
  if (mark.offset === 'delete') return crossSvg(anchor, picture.grid, layout, sizes)
  const [du, dv] = mark.offset!
  if (du === 0 && dv === 0) return ringSvg(anchor, sizes)
  return arrowSvg(anchor, toOut(landingPoint(i, j, [du, dv], picture.grid, picture.flipV), layout), sizes)
}

function ringSvg([x, y]: [number, number], {rOffset: r, stroke}: MarkSizes): string {
  return `<circle cx="${num(x)}" cy="${num(y)}" r="${num(r + stroke + 1)}" fill="none" stroke="${COLOURS.offset}" stroke-width="${num(stroke)}"/>`
}

/** An X around the dot: four diagonal arms from the dot's edge outwards, so the dot stays whole. */
function crossSvg([x, y]: [number, number], grid: GridFrame, layout: Layout, {rOffset: r, stroke}: MarkSizes): string {
  const cell = Math.min((layout.sx * grid.width) / grid.n, (layout.sy * grid.height) / grid.n)
  const outer = Math.max(r + 3 * stroke, 0.45 * cell) / Math.SQRT2
  const inner = (r + stroke / 2 + 0.5) / Math.SQRT2
  const arms = [
    [1, 1],
    [-1, 1],
    [1, -1],
    [-1, -1],
  ]
    .map(([u, v]) => `M${num(x + u * inner)} ${num(y + v * inner)}L${num(x + u * outer)} ${num(y + v * outer)}`)
    .join('')
  return haloed(arms, stroke + 0.5)
}

/** Shaft from the dot's edge to the head's base; the head's tip is exactly the landing point. */
function arrowSvg([ax, ay]: [number, number], [lx, ly]: [number, number], {rOffset: r, stroke}: MarkSizes): string {
  const len = Math.hypot(lx - ax, ly - ay)
  const [ux, uy] = [(lx - ax) / len, (ly - ay) / len]
  const head = clamp(0.45 * len, 3, 9)
  const half = head * 0.6
  const [bx, by] = [lx - ux * head, ly - uy * head]
  const shaft = `M${num(ax + ux * r * 0.5)} ${num(ay + uy * r * 0.5)}L${num(bx + ux)} ${num(by + uy)}`
  const tip = `${num(lx)},${num(ly)} ${num(bx - uy * half)},${num(by + ux * half)} ${num(bx + uy * half)},${num(by - ux * half)}`
  return (
    haloed(shaft, stroke) +
    `<polygon points="${tip}" fill="${COLOURS.offset}" stroke="#ffffff" stroke-opacity="0.85" stroke-width="1" stroke-linejoin="round"/>` +
    `<polygon points="${tip}" fill="${COLOURS.offset}"/>`
  )
}

/** A blue stroke over a white halo, so it reads on any photo. */
function haloed(d: string, width: number): string {
  return (
    `<path d="${d}" stroke="#ffffff" stroke-opacity="0.85" stroke-width="${num(width + 2)}" stroke-linecap="round" fill="none"/>` +
    `<path d="${d}" stroke="${COLOURS.offset}" stroke-width="${num(width)}" stroke-linecap="round" fill="none"/>`
  )
}

// ---- caption ---------------------------------------------------------------

/** Caption lines on an opaque band below the photo; the first line bold, lines cut to fit with "…". */
function captionSvg(lines: readonly string[], layout: Layout): string {
  const {width, height, fontSize: fs, captionHeight} = layout
  const pad = Math.round(fs * 0.6)
  const maxChars = Math.max(4, Math.floor((width - 2 * pad) / (CHAR_EM * fs)))
  const text = lines.map((line, k) => {
    const y = height + Math.round(fs * (0.45 + 1.4 * k + 1.0))
    const weight = k === 0 ? ' font-weight="bold"' : ''
    const fill = k === 0 ? COLOURS.text : COLOURS.dim
    return `<text x="${pad}" y="${y}" font-family="${FONT}" font-size="${fs}"${weight} fill="${fill}">${escapeXml(fitText(line, maxChars))}</text>`
  })
  const legend = layout.legend ? legendSvg(layout, pad, height + Math.round(fs * (0.45 + 1.4 * lines.length + 1.0))) : ''
  return `<rect x="0" y="${height}" width="${width}" height="${captionHeight}" fill="${COLOURS.band}"/>${text.join('')}${legend}`
}

/** A key to the marks, one glyph and a word each, on the band's last line (baseline y). */
function legendSvg(layout: Layout, pad: number, y: number): string {
  const fs = Math.round(layout.fontSize * 0.85)
  const g = fs * 0.5
  const cy = y - fs * 0.35
  const glyphs: [string, (x: number) => string][] = [
    ['grid token', (x) => `<circle cx="${num(x + g)}" cy="${num(cy)}" r="${num(g * 0.6)}" fill="${COLOURS.dot}"/>`],
    [
      'offset',
      (x) =>
        `<path d="M${num(x)} ${num(cy)}H${num(x + 2 * g - 3)}" stroke="${COLOURS.offset}" stroke-width="2"/><polygon points="${num(x + 2 * g)},${num(cy)} ${num(x + 2 * g - 5)},${num(cy - 3.5)} ${num(x + 2 * g - 5)},${num(cy + 3.5)}" fill="${COLOURS.offset}"/>`,
    ],
    [
      '<DELETE>',
      (x) =>
        `<path d="M${num(x + 2)} ${num(cy - g + 2)}L${num(x + 2 * g - 2)} ${num(cy + g - 2)}M${num(x + 2)} ${num(cy + g - 2)}L${num(x + 2 * g - 2)} ${num(cy - g + 2)}" stroke="${COLOURS.offset}" stroke-width="2"/>`,
    ],
    [
      '<OFF_0_0>',
      (x) => `<circle cx="${num(x + g)}" cy="${num(cy)}" r="${num(g * 0.75)}" fill="none" stroke="${COLOURS.offset}" stroke-width="2"/>`,
    ],
    ['ground truth', (x) => `<path d="M${num(x)} ${num(cy)}H${num(x + 2 * g)}" stroke="${COLOURS.gt}" stroke-width="3"/>`],
    [
      'decoded mask',
      (x) =>
        `<rect x="${num(x)}" y="${num(cy - g)}" width="${num(2 * g)}" height="${num(2 * g)}" fill="rgb(${COLOURS.fill.join(',')})" fill-opacity="0.8"/>`,
    ],
  ]
  let x = pad
  const parts: string[] = []
  for (const [label, glyph] of glyphs) {
    parts.push(
      glyph(x),
      `<text x="${num(x + 2 * g + fs * 0.35)}" y="${y}" font-family="${FONT}" font-size="${fs}" fill="${COLOURS.dim}">${escapeXml(label)}</text>`,
    )
    // labels are mostly '<', '>', '_' and capitals, wider than average text
    x += 2 * g + fs * 0.35 + label.length * 0.66 * fs + fs
  }
  return parts.join('')
}

export function fitText(line: string, maxChars: number): string {
  return line.length <= maxChars ? line : `${line.slice(0, maxChars - 1)}…`
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'})[c]!)
}

// ---- helpers ---------------------------------------------------------------

function toOut([x, y]: [number, number], layout: Layout): [number, number] {
  return [x * layout.sx, y * layout.sy]
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

/** Short decimal for SVG attributes. */
function num(v: number): string {
  return String(Math.round(v * 100) / 100)
}
