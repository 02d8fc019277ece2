/** The picture's marks as SVG: lattice, ground-truth outline, boxes, polylines, grid tokens and their offsets. */
import {type Cell, type GridFrame, cellToAnchor, landingPoint} from '../grid/grid.js'
import type {Mask} from '../masks/mask.js'
import {COLOURS, type GridMark, type Layout, type Picture, type PromptBox, clamp, num, toOut} from './picture.js'

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

export function latticeSvg(grid: GridFrame, layout: Layout): string {
  const {width, height} = layout
  const lines: string[] = []
  for (let k = 1; k < grid.n; k++) {
    const x = num((k * width) / grid.n)
    const y = num((k * height) / grid.n)
    lines.push(`M${x} 0V${height}`, `M0 ${y}H${width}`)
  }
  return `<path d="${lines.join('')}" stroke="#ffffff" stroke-opacity="0.2" stroke-width="1" fill="none"/>`
}

export function outlineSvg(gt: Mask, layout: Layout): string {
  const d = maskToOutlinePath(gt, layout.sx, layout.sy)
  const w = clamp(layout.width / 400, 1.5, 3)
  return (
    `<path d="${d}" stroke="#000000" stroke-opacity="0.55" stroke-width="${num(w + 2)}" stroke-linecap="square" fill="none"/>` +
    `<path d="${d}" stroke="${COLOURS.gt}" stroke-width="${num(w)}" stroke-linecap="square" fill="none"/>`
  )
}

export function boxSvg([a, b]: [Cell, Cell], grid: GridFrame, layout: Layout): string {
  const [x0, y0] = toOut(cellToAnchor(a[0], a[1], grid), layout)
  const [x1, y1] = toOut(cellToAnchor(b[0], b[1], grid), layout)
  return (
    `<rect x="${num(Math.min(x0, x1))}" y="${num(Math.min(y0, y1))}" width="${num(Math.abs(x1 - x0))}" ` +
    `height="${num(Math.abs(y1 - y0))}" ` +
    `stroke="${COLOURS.dot}" stroke-width="2" stroke-dasharray="6 4" fill="none"/>`
  )
}

export function polylineSvg(path: readonly Cell[], grid: GridFrame, layout: Layout): string {
  const pts = path
    .map(([i, j]) =>
      toOut(cellToAnchor(i, j, grid), layout)
        .map(num)
        .join(','),
    )
    .join(' ')
  return `<polyline points="${pts}" stroke="${COLOURS.dot}" stroke-width="2" fill="none"/>`
}

/**
 * The box rule's prompt box: the rectangle SAM was given (solid orange, between the moved corners),
 * each box token's anchor as a small red square, and its move as an offset mark (a blue arrow from
 * the anchor to the corner SAM got, a blue ring for <OFF_0_0>).
 */
export function promptBoxSvg(box: PromptBox, grid: GridFrame, layout: Layout): string {
  const sizes = markSizes(grid, layout)
  const [[x0, y0], [x1, y1]] = box.corners.map((p) => toOut(p, layout))
  const w = clamp(layout.width / 400, 1.5, 2.5)
  const rect = (stroke: string, width: number, extra = '') =>
    `<rect x="${num(Math.min(x0, x1))}" y="${num(Math.min(y0, y1))}" width="${num(Math.abs(x1 - x0))}" ` +
    `height="${num(Math.abs(y1 - y0))}" stroke="${stroke}" stroke-width="${num(width)}"${extra} fill="none"/>`
  const moves = box.anchors.map((anchor, k) => {
    const [a, c] = [toOut(anchor, layout), toOut(box.corners[k], layout)]
    return a[0] === c[0] && a[1] === c[1] ? ringSvg(a, sizes) : arrowSvg(a, c, sizes)
  })
  const squares = box.anchors.map((anchor) => {
    const [x, y] = toOut(anchor, layout)
    const h = sizes.rOffset * 0.9
    return (
      `<rect x="${num(x - h)}" y="${num(y - h)}" width="${num(2 * h)}" height="${num(2 * h)}" fill="${COLOURS.dot}" ` +
      `stroke="#ffffff" stroke-width="0.8"/>`
    )
  })
  return rect('#000000', w + 2, ' stroke-opacity="0.55"') + rect(COLOURS.promptBox, w) + moves.join('') + squares.join('')
}

/** Offset marks under the dots: a dot hides the start of its arrow. */
export function marksSvg(picture: Picture, layout: Layout): string {
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
  return (
    `<circle cx="${num(x)}" cy="${num(y)}" r="${num(r + stroke + 1)}" fill="none" stroke="${COLOURS.offset}" ` +
    `stroke-width="${num(stroke)}"/>`
  )
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
