/**
 * GETok token spelling and the geometry grammar (SPEC §1–2).
 *
 *   style "plain" (default):  <grid_4_3>      <OFF_-1_0>      <DELETE>
 *   style "paper":            <grid_{4,3}>    <OFF_{-1,0}>    <DELETE>
 *
 * Plain has no commas or spaces, so trainers that split special-token lists on
 * either keep each token whole. Parsing accepts both spellings.
 *
 *   point     <grid_4_3>
 *   box       <box><grid_1_2><grid_9_7></box>          top-left, bottom-right
 *   polyline  <pl><grid_1_1><grid_2_1>…</pl>            path order
 *   mask      <seg><grid_3_1><grid_4_1><grid_2_2></seg> raster order (by j, then i)
 *   offsets   <offset><seg><OFF_0_0><DELETE>…</seg></offset>, one per grid token
 *   several instances: groups joined by ", "
 */
import {GetokError} from '../errors.js'
import {type Cell, type Move, sortCellsRaster} from './grid.js'

export type TokenStyle = 'plain' | 'paper'
export const TOKEN_STYLES: readonly TokenStyle[] = ['plain', 'paper']
export const DELETE_TOKEN = '<DELETE>'
export type OffsetTarget = Move | 'delete'
export type GroupKind = 'seg' | 'box' | 'pl' | 'point'
type Tag = 'box' | 'seg' | 'pl' | 'offset'

export function gridToken(i: number, j: number, style: TokenStyle = 'plain'): string {
  return style === 'paper' ? `<grid_{${i},${j}}>` : `<grid_${i}_${j}>`
}

export function offsetToken(target: OffsetTarget, style: TokenStyle = 'plain'): string {
  if (target === 'delete') return DELETE_TOKEN
  const [du, dv] = target
  return style === 'paper' ? `<OFF_{${du},${dv}}>` : `<OFF_${du}_${dv}>`
}

export function boxToTokens(topLeft: Cell, bottomRight: Cell, style: TokenStyle = 'plain'): string {
  return `<box>${gridToken(topLeft[0], topLeft[1], style)}${gridToken(bottomRight[0], bottomRight[1], style)}</box>`
}

export function polylineToTokens(path: readonly Cell[], style: TokenStyle = 'plain'): string {
  return `<pl>${path.map(([i, j]) => gridToken(i, j, style)).join('')}</pl>`
}

/** Mask as an unordered token set, written in raster order so output is deterministic. */
export function cellsToSegTokens(cells: readonly Cell[], n: number, style: TokenStyle = 'plain'): string {
  return `<seg>${sortCellsRaster(cells, n)
    .map(([i, j]) => gridToken(i, j, style))
    .join('')}</seg>`
}

/** Offsets mirror a group: one offset token per grid token, same order, one refinement round. */
export function offsetsToTokens(kind: GroupKind, targets: readonly OffsetTarget[], style: TokenStyle = 'plain'): string {
  const body = targets.map((t) => offsetToken(t, style)).join('')
  return `<offset>${kind === 'point' ? body : `<${kind}>${body}</${kind}>`}</offset>`
}

export function joinGroups(groups: readonly string[]): string {
  return groups.join(', ')
}

// ---- parsing -------------------------------------------------------------

export type Token =
  | {type: 'grid'; cell: Cell; at: number}
  | {type: 'offset'; target: OffsetTarget; at: number}
  | {type: 'open'; tag: Tag; at: number}
  | {type: 'close'; tag: Tag; at: number}
  | {type: 'sep'; at: number}

export interface TokenGroup {
  kind: GroupKind
  cells: Cell[]
  /** present when the group is wrapped in <offset>…</offset> */
  offsets?: OffsetTarget[]
}

/** A token string that does not follow the grammar; `offset` is the character where it breaks. */
export class TokenParseError extends GetokError {
  constructor(
    readonly offset: number,
    message: string,
    readonly input: string,
    /** 'range': a well-formed grid token whose index is outside the grid (eval counts it as out_of_grid) */
    readonly kind: 'syntax' | 'range' = 'syntax',
  ) {
    super(`token string, character ${offset}: ${message} (near ${JSON.stringify(input.slice(offset, offset + 24))})`)
    this.name = 'TokenParseError'
  }
}

const INT = '(-?\\d+)'
const GRID_RE = new RegExp(`^<grid_(?:${INT}_${INT}|\\{${INT},\\s*${INT}\\})>$`)
const OFF_RE = new RegExp(`^<OFF_(?:${INT}_${INT}|\\{${INT},\\s*${INT}\\})>$`)
const TAG_RE = /^<(\/?)(box|seg|pl|offset)>$/

/** Split a model answer into tokens; whitespace is ignored, a comma separates groups. */
export function tokenize(text: string, n?: number): Token[] {
  const tokens: Token[] = []
  let k = 0
  while (k < text.length) {
    const ch = text[k]
    if (/\s/.test(ch)) {
      k++
      continue
    }
    if (ch === ',') {
      tokens.push({type: 'sep', at: k})
      k++
      continue
    }
    if (ch !== '<') throw new TokenParseError(k, `unexpected text outside a token`, text)
    const end = text.indexOf('>', k)
    if (end < 0) throw new TokenParseError(k, 'unterminated token', text)
    tokens.push(readToken(text.slice(k, end + 1), k, text, n))
    k = end + 1
  }
  return tokens
}

function readToken(raw: string, at: number, text: string, n?: number): Token {
  const pair = (m: RegExpMatchArray): [number, number] => (m[1] === undefined ? [Number(m[3]), Number(m[4])] : [Number(m[1]), Number(m[2])])
  let m = raw.match(GRID_RE)
  if (m) {
    const [i, j] = pair(m)
    if (i < 0 || j < 0 || (n !== undefined && (i >= n || j >= n))) {
      throw new TokenParseError(at, `grid index ${raw} out of range for n = ${n ?? '?'}`, text, 'range')
    }
    return {type: 'grid', cell: [i, j], at}
  }
  if (raw === DELETE_TOKEN) return {type: 'offset', target: 'delete', at}
  m = raw.match(OFF_RE)
  if (m) {
    const [du, dv] = pair(m)
    if (Math.abs(du) > 1 || Math.abs(dv) > 1) throw new TokenParseError(at, `offset ${raw} outside {-1,0,1}`, text)
    return {type: 'offset', target: [du, dv], at}
  }
  m = raw.match(TAG_RE)
  if (m) return {type: m[1] ? 'close' : 'open', tag: m[2] as Tag, at}
  throw new TokenParseError(at, `unknown token ${raw}`, text)
}

/**
 * Parse an answer into groups. Grid groups: a bare grid token (point) or
 * <seg>/<box>/<pl> around grid tokens. Offset groups: <offset> around a
 * bare offset token or <seg>/<box>/<pl> around offset tokens.
 */
export function parseTokens(text: string, n?: number): TokenGroup[] {
  const tokens = tokenize(text, n)
  const groups: TokenGroup[] = []
  let k = 0
  const expect = (cond: boolean, msg: string) => {
    if (!cond) throw new TokenParseError(tokens[Math.min(k, tokens.length - 1)]?.at ?? 0, msg, text)
  }
  while (k < tokens.length) {
    const t = tokens[k]
    if (t.type === 'sep') {
      k++
      continue
    }
    if (t.type === 'grid') {
      groups.push({kind: 'point', cells: [t.cell]})
      k++
      continue
    }
    expect(t.type === 'open', `expected a grid token or an opening tag`)
    const open = t as Extract<Token, {type: 'open'}>
    k++
    if (open.tag === 'offset') {
      const inner = tokens[k]
      if (inner?.type === 'offset') {
        groups.push({kind: 'point', cells: [], offsets: [inner.target]})
        k++
      } else {
        expect(inner?.type === 'open' && inner.tag !== 'offset', 'expected <seg>, <box>, <pl> or an offset token after <offset>')
        const kind = (inner as Extract<Token, {type: 'open'}>).tag as GroupKind
        k++
        const offsets: OffsetTarget[] = []
        while (tokens[k]?.type === 'offset') offsets.push((tokens[k++] as Extract<Token, {type: 'offset'}>).target)
        expect(tokens[k]?.type === 'close' && (tokens[k] as {tag: string}).tag === kind, `expected </${kind}>`)
        k++
        groups.push({kind, cells: [], offsets})
      }
      expect(tokens[k]?.type === 'close' && (tokens[k] as {tag: string}).tag === 'offset', 'expected </offset>')
      k++
      continue
    }
    const kind = open.tag as GroupKind
    const cells: Cell[] = []
    while (tokens[k]?.type === 'grid') cells.push((tokens[k++] as Extract<Token, {type: 'grid'}>).cell)
    expect(tokens[k]?.type === 'close' && (tokens[k] as {tag: string}).tag === kind, `expected </${kind}>`)
    if (kind === 'box') expect(cells.length === 2, `a box needs exactly 2 grid tokens, got ${cells.length}`)
    k++
    groups.push({kind, cells})
  }
  return groups
}

/** Every token of the vocabulary for grid size n, in a fixed order: grid (raster), offsets, DELETE. */
export function vocabulary(n: number, style: TokenStyle = 'plain'): string[] {
  const out: string[] = []
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) out.push(gridToken(i, j, style))
  for (const dv of [-1, 0, 1]) for (const du of [-1, 0, 1]) out.push(offsetToken([du, dv], style))
  out.push(DELETE_TOKEN)
  return out
}
