/**
 * A `curate` record's tokens as an answer to decode, under the rule the record names (SPEC §6, §8).
 *
 *   {"points": [[4, 3]], "box": "<box><grid_1_2><grid_10_9></box>", "decode": "box",
 *    "box_offsets": "<offset><box><OFF_-1_0><OFF_0_1></box></offset>"}
 *     →  rule box, cells [[4, 3]], box [[1, 2], [10, 9]], box moves [[-1, 0], [0, 1]]
 *
 * A record without `decode` was made before the box rule existed: it reads as `union`.
 */
import {type ErrorPlace, GetokError} from '../errors.js'
import type {Cell, Move} from '../grid/grid.js'
import {parseTokens} from '../grid/tokens.js'
import {DECODE_RULES, type DecodeRule, type TokenAnswer} from './prompts.js'

/** The fields of a curate record that decoding reads. */
export interface CuratedTokens {
  points: readonly Cell[]
  box: string
  decode?: DecodeRule
  box_offsets?: string
}

export function curatedRule(record: Pick<CuratedTokens, 'decode'>, where: ErrorPlace = {}): DecodeRule {
  const rule = record.decode ?? 'union'
  if (!DECODE_RULES.includes(rule)) {
    throw new GetokError('unknown decode rule', {...where, field: 'decode'}, DECODE_RULES.join(' or '), JSON.stringify(rule))
  }
  return rule
}

/** The record's rule and answer; under `box` the box tokens and their moves come along. */
export function curatedAnswer(record: CuratedTokens, n: number, where: ErrorPlace = {}): {rule: DecodeRule; answer: TokenAnswer} {
  const rule = curatedRule(record, where)
  if (rule === 'union') return {rule, answer: {cells: record.points}}
  const [box] = parseTokens(record.box, n)
  if (box?.kind !== 'box') throw new GetokError('not a box', {...where, field: 'box'}, '<box>…</box>', record.box)
  if (record.box_offsets === undefined) {
    throw new GetokError(
      'a box-rule record needs its box offsets',
      {...where, field: 'box_offsets'},
      '<offset><box>…</box></offset>',
      'none',
    )
  }
  const [moves] = parseTokens(record.box_offsets, n)
  const offsets = moves?.kind === 'box' ? moves.offsets : undefined
  if (!offsets || offsets.length !== 2 || offsets.includes('delete')) {
    throw new GetokError(
      'not two box corner moves',
      {...where, field: 'box_offsets'},
      '<offset><box><OFF_a_b><OFF_c_d></box></offset>',
      record.box_offsets,
    )
  }
  return {rule, answer: {cells: record.points, box: [box.cells[0], box.cells[1]], boxMoves: offsets as [Move, Move]}}
}
