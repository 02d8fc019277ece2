/**
 * A model's answer text → the objects it names (SPEC §1–2, §9), and its refinement turn → their
 * offsets. Either spelling parses; objects are separated by ", "; text around the tokens (an answer
 * template's words, a chat template's end marker) is ignored, text between them is not.
 *
 *   "Sure: <seg><grid_3_1><grid_4_1></seg>, <seg><grid_9_9></seg><|im_end|>"
 *       →  objects [{cells: [[3,1],[4,1]]}, {cells: [[9,9]]}]
 *   "<box><grid_{1,2}><grid_{9,7}></box><seg><grid_4_3></seg>"   →  [{box: [[1,2],[9,7]], cells: [[4,3]]}]
 *   refinement "<offset><seg><OFF_0_1><DELETE></seg></offset>"    →  [{offsets: [[0,1], 'delete']}]
 *
 * A bad answer is never an exception: it comes back as a failure with a reason (counted by eval)
 * and a detail (the parser's message).
 */
import type {Cell, Move} from '../grid/grid.js'
import {type OffsetTarget, type Token, type TokenGroup, TokenParseError, parseTokens, tokenize} from '../grid/tokens.js'

export const FAILURE_REASONS = [
  'empty',
  'no_tokens',
  'parse_error',
  'out_of_grid',
  'no_mask',
  'no_box',
  'no_point',
  'refinement_parse_error',
  'refinement_mismatch',
] as const
export type FailureReason = (typeof FAILURE_REASONS)[number]

export interface Failure {
  failure: FailureReason
  detail: string
}

/** One referred object as the answer writes it: its box tokens and its grid points (<seg> cells, then bare points). */
export interface AnswerObject {
  box?: [Cell, Cell]
  cells: Cell[]
  /** the cells came in a <seg> group (not as bare point tokens) */
  seg?: true
}

/** One object's refinement: an offset per grid point (same order), and the box corners' moves. */
export interface ObjectRefinement {
  offsets: OffsetTarget[]
  boxMoves?: [Move, Move]
}

export type Parsed<T> = {ok: true; value: T} | ({ok: false} & Failure)

const fail = (failure: FailureReason, detail: string): {ok: false} & Failure => ({ok: false, failure, detail})

const GETOK_TOKEN = /<(?:grid_[^<>]*|OFF_[^<>]*|DELETE|\/?(?:box|seg|pl|offset))>/g

/** The answer from its first GETok token to the end of its last one ('' when it has none). */
export function tokenSpan(text: string): string {
  const matches = [...text.matchAll(GETOK_TOKEN)]
  if (matches.length === 0) return ''
  const last = matches[matches.length - 1]
  return text.slice(matches[0].index, last.index + last[0].length)
}

/**
 * The span split at its top-level separators: one string per object. Commas inside a paper-style
 * token (<grid_{4,3}>) are not separators, so the split follows the tokenizer, not the text.
 */
function splitObjects(span: string): string[] {
  const seps = tokenize(span).filter((t: Token) => t.type === 'sep')
  const out: string[] = []
  let from = 0
  for (const s of seps) {
    out.push(span.slice(from, s.at))
    from = s.at + 1
  }
  out.push(span.slice(from))
  return out.map((s) => s.trim()).filter((s) => s.length > 0)
}

/** Tokens → groups, one list per object; grammar errors and grid indices ≥ n become failures. */
function parseObjectGroups(text: string, n: number, prefix = ''): Parsed<TokenGroup[][]> {
  if (text.trim() === '') return fail('empty', 'the answer is empty')
  const span = tokenSpan(text)
  if (span === '') return fail('no_tokens', 'the answer holds no GETok token')
  let objects: TokenGroup[][]
  try {
    objects = splitObjects(span).map((part) => parseTokens(part))
  } catch (error) {
    if (error instanceof TokenParseError && error.kind === 'range' && !prefix) return fail('out_of_grid', error.message)
    if (error instanceof TokenParseError) return fail(`${prefix}parse_error` as FailureReason, error.message)
    throw error
  }
  for (const groups of objects) {
    for (const g of groups) {
      const bad = g.cells.find(([i, j]) => i >= n || j >= n)
      if (bad)
        return fail(prefix ? 'refinement_parse_error' : 'out_of_grid', `<grid> index (${bad[0]}, ${bad[1]}) outside the ${n}×${n} grid`)
    }
  }
  return {ok: true, value: objects}
}

export interface ParsedAnswer {
  objects: AnswerObject[]
  /** offsets written in the answer itself (a model that answers and refines in one turn), per object */
  inlineRefinement?: ObjectRefinement[]
}

/** Parse a grid answer (the first turn). */
export function parseAnswer(text: string, n: number): Parsed<ParsedAnswer> {
  const parsed = parseObjectGroups(text, n)
  if (!parsed.ok) return parsed
  const objects: AnswerObject[] = []
  const inline: ObjectRefinement[] = []
  for (const groups of parsed.value) {
    const object: AnswerObject = {cells: []}
    const grid = groups.filter((g) => !g.offsets)
    for (const g of grid) {
      if (g.kind === 'pl') return fail('parse_error', 'a polyline (<pl>) is not a box, mask or point answer')
      if (g.kind === 'box') {
        if (object.box) return fail('parse_error', 'an object with two <box> groups')
        object.box = [g.cells[0], g.cells[1]]
      } else {
        if (g.kind === 'seg') object.seg = true
        object.cells.push(...g.cells)
      }
    }
    const offsetGroups = groups.filter((g) => g.offsets)
    if (grid.length === 0 && offsetGroups.length > 0) return fail('parse_error', 'offset tokens where grid tokens were expected')
    objects.push(object)
    if (offsetGroups.length > 0) {
      const r = refinementOf(offsetGroups)
      if (!r.ok) return r
      inline.push(r.value)
    }
  }
  if (inline.length > 0 && inline.length !== objects.length)
    return fail('refinement_mismatch', `offsets for ${inline.length} of the answer's ${objects.length} objects`)
  return {ok: true, value: inline.length > 0 ? {objects, inlineRefinement: inline} : {objects}}
}

/** Parse a refinement turn: offset groups only, one object per answer object. */
export function parseRefinement(text: string, n: number): Parsed<ObjectRefinement[]> {
  const parsed = parseObjectGroups(text, n, 'refinement_')
  if (!parsed.ok)
    return parsed.failure === 'empty' || parsed.failure === 'no_tokens' ? {...parsed, failure: 'refinement_parse_error'} : parsed
  const out: ObjectRefinement[] = []
  for (const groups of parsed.value) {
    if (groups.some((g) => !g.offsets)) return fail('refinement_parse_error', 'grid tokens in a refinement (offset tokens expected)')
    const r = refinementOf(groups)
    if (!r.ok) return r
    out.push(r.value)
  }
  return {ok: true, value: out}
}

function refinementOf(groups: readonly TokenGroup[]): Parsed<ObjectRefinement> {
  const r: ObjectRefinement = {offsets: []}
  for (const g of groups) {
    if (g.kind === 'box') {
      const [a, b] = g.offsets!
      if (g.offsets!.length !== 2 || a === 'delete' || b === 'delete')
        return fail('refinement_parse_error', 'box offsets must be two moves (no <DELETE>)')
      r.boxMoves = [a, b]
    } else r.offsets.push(...g.offsets!)
  }
  return {ok: true, value: r}
}

/** The answer's objects with their refinement paired one to one; a count that differs is a failure. */
export function pairRefinement(objects: readonly AnswerObject[], refinement: readonly ObjectRefinement[]): Parsed<ObjectRefinement[]> {
  if (refinement.length !== objects.length)
    return fail('refinement_mismatch', `${refinement.length} refined objects for the answer's ${objects.length}`)
  for (const [k, r] of refinement.entries()) {
    const o = objects[k]
    // a refinement of the box alone leaves the points where they are (the box rule's box_offsets turn)
    const boxOnly = r.offsets.length === 0 && r.boxMoves !== undefined
    if (r.offsets.length !== o.cells.length && !boxOnly)
      return fail('refinement_mismatch', `object ${k + 1}: ${r.offsets.length} offset tokens for ${o.cells.length} grid tokens`)
    if (r.boxMoves && !o.box) return fail('refinement_mismatch', `object ${k + 1}: box offsets for an answer without a <box>`)
  }
  return {ok: true, value: [...refinement]}
}
