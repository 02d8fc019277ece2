/**
 * Answers of box-rule records (SPEC §8) for export. Under the box rule a record's mask is the one
 * SAM prompt of its box (corners moved to the half-cell lattice by `box_offsets`) and its points,
 * so its answer is the box and the points, and the corner moves are a refinement turn of their own:
 *
 *   turn 1  <box><grid_3_0><grid_13_8></box><seg><grid_4_0></seg>     (zero points: <seg></seg>)
 *   turn 2  <offset><box><OFF_-1_0><OFF_1_1></box></offset>          the record's box_offsets
 *
 * Decoding turn 1 refined by turn 2 is the record's own prompt, so eval gives back its `iou`.
 * A refine conversation (an offsets record's simulated prediction) under the box rule carries the
 * box too: prev `<box>…</box><seg>…</seg>`, target `<offset><box>…</box></offset><offset><seg>…</seg></offset>`.
 */
import type {Move} from '../grid/grid.js'
import {type TokenStyle, offsetsToTokens, parseTokens} from '../grid/tokens.js'

/** What an answer needs of a curated record under its rule. */
export interface RuleTokens {
  seg: string
  box: string
  /** box rule only: `<offset><box>…</box></offset>` */
  boxOffsets?: string
}

/** The first-turn answer: the seg (union), or the box followed by the seg (box). */
export function ruleAnswer(o: RuleTokens): string {
  return o.boxOffsets === undefined ? o.seg : o.box + o.seg
}

/** A refinement target under the record's rule: the box moves first (box rule), then the points' offsets. */
export function ruleTarget(o: RuleTokens, pointTarget: string): string {
  return o.boxOffsets === undefined ? pointTarget : o.boxOffsets + pointTarget
}

/** The two corner moves of a `<offset><box>…</box></offset>` string (the caller has validated it). */
export function boxMoves(boxOffsets: string, n: number): [Move, Move] {
  const [g] = parseTokens(boxOffsets, n)
  const moves = g?.kind === 'box' ? g.offsets : undefined
  if (!moves || moves.length !== 2 || moves.includes('delete')) throw new Error(`not two box corner moves: ${boxOffsets}`)
  return moves as [Move, Move]
}

/**
 * The same corner moves in the other dv convention (offsets' --flip-v: dv = +1 up). Curate writes
 * box_offsets with dv = +1 down; exported with an offsets folder made with --flip-v, every offset
 * token a conversation holds must follow that folder's sign, which eval then reads from its manifest.
 */
export function flipBoxOffsets(boxOffsets: string, n: number, style: TokenStyle): string {
  const [a, b] = boxMoves(boxOffsets, n)
  const flip = ([du, dv]: Move): Move => [du, dv === 0 ? 0 : -dv]
  return offsetsToTokens('box', [flip(a), flip(b)], style)
}
