/**
 * SAM prompts, and the decode rules that turn a token answer into them (SPEC §4, §8).
 *
 * A prompt is a list of points in image pixels with SAM's labels:
 *   1 positive click, 0 negative click, 2 box top-left, 3 box bottom-right, −1 padding.
 *
 *   union rule, points (90, 52.5) and (110, 52.5)  →  two prompts:
 *       [[90, 52.5], [0, 0]] labels [1, −1]   and   [[110, 52.5], [0, 0]] labels [1, −1]
 *   box rule, box (20, 30)–(200, 150), the same points  →  one prompt:
 *       [[20, 30], [200, 150], [90, 52.5], [110, 52.5]] labels [2, 3, 1, 1]
 *
 * The padding point is what SAM's own predictor adds when no box is given; with a box it adds none.
 * The decoder runs prompts of the same length together, so a batch is made of equal-length prompts.
 */
import {type Cell, type GridFrame, type Move, cellToAnchor, landingPoint} from '../grid/grid.js'
import type {OffsetTarget} from '../grid/tokens.js'
import {type TieOrder, boxCornerTargets} from '../offsets/regions.js'

export type DecodeRule = 'union' | 'box'
export const DECODE_RULES: readonly DecodeRule[] = ['union', 'box']

/** curate's rule unless told otherwise, and eval's and serve's when nothing names one (docs/curation.md "Decode rule") */
export const DEFAULT_DECODE_RULE: DecodeRule = 'box'

/** `getok curate --decode`, described once. */
export const CURATE_DECODE_HELP =
  'Decode rule the tokens are chosen for (SPEC §8). box, the default: one prompt, the box with its corners moved to the ' +
  "half-cell lattice by box_offsets plus the points as clicks; zero points is a valid answer. union, the paper's: a click " +
  "per point, masks united. --candidates chooses either rule's candidates; see docs/curation.md."

export const LABEL = {padding: -1, negative: 0, positive: 1, boxTopLeft: 2, boxBottomRight: 3} as const

export type Pixel = [x: number, y: number]

export interface SamPrompt {
  /** image pixels (continuous: pixel k spans [k, k+1)) */
  points: Pixel[]
  labels: number[]
}

/** One positive click with SAM's padding point: the union rule's prompt for one grid point. */
export function clickPrompt(point: Pixel): SamPrompt {
  return {points: [point, [0, 0]], labels: [LABEL.positive, LABEL.padding]}
}

/** The box rule's one prompt: the box corners (labels 2 and 3) and the clicks (label 1), no padding point. */
export function boxPrompt(topLeft: Pixel, bottomRight: Pixel, clicks: readonly Pixel[]): SamPrompt {
  return {
    points: [topLeft, bottomRight, ...clicks],
    labels: [LABEL.boxTopLeft, LABEL.boxBottomRight, ...clicks.map(() => LABEL.positive)],
  }
}

/** What a token answer says about one object, parsed (core/grid/tokens.ts) but not yet decoded. */
export interface TokenAnswer {
  /** the <seg> (or point) grid tokens */
  cells: readonly Cell[]
  /** their refinement, one per cell, or none */
  offsets?: readonly OffsetTarget[]
  /** the <box> corner tokens, top-left then bottom-right */
  box?: readonly [Cell, Cell]
  /** the box corners' refinement moves (`box_offsets`), or none: the corners sit on their anchors */
  boxMoves?: readonly [Move, Move]
}

/** Pixel points of the grid tokens after their offsets, points marked <DELETE> dropped. */
export function answerPoints(answer: TokenAnswer, grid: GridFrame, flipV = false): Pixel[] {
  const {cells, offsets} = answer
  if (offsets && offsets.length !== cells.length) {
    throw new Error(`${offsets.length} offset tokens for ${cells.length} grid tokens: they must pair one to one`)
  }
  const points: Pixel[] = []
  cells.forEach(([i, j], k) => {
    const off = offsets?.[k]
    if (off === 'delete') return
    points.push(off ? landingPoint(i, j, off, grid, flipV) : cellToAnchor(i, j, grid))
  })
  return points
}

/** The box corners in pixels: each corner token's anchor moved by its box offset (half a cell a step). */
export function answerBoxCorners(
  box: readonly [Cell, Cell],
  moves: readonly [Move, Move] | undefined,
  grid: GridFrame,
  flipV = false,
): [Pixel, Pixel] {
  const corner = (k: 0 | 1): Pixel => landingPoint(box[k][0], box[k][1], moves?.[k] ?? [0, 0], grid, flipV)
  return [corner(0), corner(1)]
}

/**
 * The box a curated record names under the box rule (SPEC §8): the box grid tokens (the anchors
 * nearest the COCO box corners) and each corner's move to the half-cell lattice point nearest the
 * true corner, x = round(x·2n/W)·W/2n. These are the box targets `getok offsets` writes, ties
 * included (a corner exactly between two lattice points goes by the tie order, as there).
 */
export function curationBox(
  bboxXywh: readonly number[],
  grid: GridFrame,
  ties: TieOrder = 'axis-first',
): {box: [Cell, Cell]; boxMoves: [Move, Move]} {
  const [tl, br] = boxCornerTargets(bboxXywh, grid, {flipV: false, ties})
  return {box: [tl.cell, br.cell], boxMoves: [tl.move, br.move]}
}

/**
 * The prompts a decode rule makes of an answer: union, one click prompt per remaining point; box,
 * one prompt of the box and every remaining point. Throws when the box rule has no box to use.
 */
export function answerToPrompts(rule: DecodeRule, answer: TokenAnswer, grid: GridFrame, flipV = false): SamPrompt[] {
  const points = answerPoints(answer, grid, flipV)
  if (rule === 'union') return points.map(clickPrompt)
  if (!answer.box) throw new Error('the box rule needs a <box> in the answer')
  const [tl, br] = answerBoxCorners(answer.box, answer.boxMoves, grid, flipV)
  return [boxPrompt(tl, br, points)]
}
