/**
 * What a picture is made of (the types the renderer and the SVG builders share), its colours, and
 * small helpers for SVG numbers. Coordinates: marks in image pixels, scaled by (sx, sy) to the output.
 */
import type {Cell, GridFrame} from '../grid/grid.js'
import type {Mask} from '../masks/mask.js'
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
  /** the box rule's prompt boxes: what SAM was given, and the box tokens' anchors they moved from */
  promptBoxes?: PromptBox[]
  decoded?: Mask
  gt?: Mask
  caption: string[]
}

/**
 * A box as the box rule prompts SAM with (SPEC §8), in image pixels: `corners` are the two corner
 * points SAM was given (labels 2 and 3), `anchors` the box tokens' anchors each was moved from by
 * its box offset (equal where the move is <OFF_0_0>).
 */
export interface PromptBox {
  anchors: [[number, number], [number, number]]
  corners: [[number, number], [number, number]]
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
  promptBox: '#ff8c00',
  fill: [0, 200, 110] as const,
  fillAlpha: 0.42,
  band: '#161616',
  text: '#ffffff',
  dim: '#b8b8b8',
}

export const FONT = 'DejaVu Sans, Verdana, Arial, Helvetica, sans-serif'
/** average advance of DejaVu Sans, in em, a little generous for digits */
export const CHAR_EM = 0.58

export const LEGEND_MIN_WIDTH = 600

export function toOut([x, y]: [number, number], layout: Layout): [number, number] {
  return [x * layout.sx, y * layout.sy]
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

/** Short decimal for SVG attributes. */
export function num(v: number): string {
  return String(Math.round(v * 100) / 100)
}
