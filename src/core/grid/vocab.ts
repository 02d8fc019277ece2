/**
 * The GETok vocabulary as files trainers read (SPEC §1), and the check that
 * an exported text uses no token outside it.
 *
 *   n = 32: 1024 grid tokens (raster order: row j, then column i) + 9 offsets + <DELETE> = 1034,
 *           + 8 structure tags with `tags` (<box> </box> <seg> </seg> <pl> </pl> <offset> </offset>) = 1042
 *
 * Formats (one token per entry, always in that order):
 *   list          <grid_0_0>\n<grid_1_0>\n…      one per line: ms-swift `--new_special_tokens FILE.txt`
 *                                                  (read with str.split(), so any whitespace separates)
 *   llamafactory  "<grid_3_19>": "grid cell column 3 row 19"
 *                                                  YAML map token → description: LLaMA-Factory
 *                                                  `new_special_tokens_config` (descriptions feed `init_special_tokens: desc_init`)
 *   json          {"grid": 32, "token_style": "plain", "count": 1034, "tokens": [{"token", "kind", "description"}]}
 */
import {DELETE_TOKEN, type TokenStyle, gridToken, offsetToken} from './tokens.js'

export const STRUCTURE_TAGS = ['<box>', '</box>', '<seg>', '</seg>', '<pl>', '</pl>', '<offset>', '</offset>'] as const
export const VOCAB_FORMATS = ['list', 'llamafactory', 'json'] as const
export type VocabFormat = (typeof VOCAB_FORMATS)[number]

export type VocabKind = 'grid' | 'offset' | 'delete' | 'tag'

export interface VocabEntry {
  token: string
  kind: VocabKind
  description: string
}

export interface VocabOptions {
  n: number
  style: TokenStyle
  /** also list the 8 structure tags */
  tags: boolean
  /** dv = +1 moves up (offsets --flip-v); only changes the descriptions */
  flipV?: boolean
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  '<box>': 'start of a box: top-left then bottom-right grid cell',
  '</box>': 'end of a box',
  '<seg>': 'start of a mask as a set of grid cells',
  '</seg>': 'end of a mask',
  '<pl>': 'start of a polyline: grid cells in path order',
  '</pl>': 'end of a polyline',
  '<offset>': 'start of offset refinement: one move per grid cell of the previous answer',
  '</offset>': 'end of offset refinement',
}

/** Every entry of the vocabulary, in the fixed order of `vocabulary()`: grid (raster), offsets, DELETE, then tags. */
export function vocabularyEntries(o: VocabOptions): VocabEntry[] {
  const out: VocabEntry[] = []
  for (let j = 0; j < o.n; j++) {
    for (let i = 0; i < o.n; i++) out.push({token: gridToken(i, j, o.style), kind: 'grid', description: `grid cell column ${i} row ${j}`})
  }
  for (const dv of [-1, 0, 1]) {
    for (const du of [-1, 0, 1])
      out.push({token: offsetToken([du, dv], o.style), kind: 'offset', description: describeMove(du, dv, o.flipV ?? false)})
  }
  out.push({token: DELETE_TOKEN, kind: 'delete', description: 'delete this grid cell from the previous answer'})
  if (o.tags) for (const t of STRUCTURE_TAGS) out.push({token: t, kind: 'tag', description: TAG_DESCRIPTIONS[t]})
  return out
}

function describeMove(du: number, dv: number, flipV: boolean): string {
  if (du === 0 && dv === 0) return 'offset: keep this grid cell in place'
  const horizontal = du === 0 ? [] : [du > 0 ? 'right' : 'left']
  const down = flipV ? dv < 0 : dv > 0
  const vertical = dv === 0 ? [] : [down ? 'down' : 'up']
  return `offset: move half a cell ${[...horizontal, ...vertical].join(' and ')}`
}

/** One token per line, newline-terminated (ms-swift splits the file on whitespace). */
export function vocabToList(entries: readonly VocabEntry[]): string {
  return entries.map((e) => e.token).join('\n') + '\n'
}

/**
 * YAML map token → description. Keys and values are written as JSON strings,
 * which YAML reads as double-quoted scalars, so the paper spelling's braces and
 * commas stay inside the key.
 */
export function vocabToLlamaFactoryYaml(entries: readonly VocabEntry[], o: VocabOptions): string {
  const head =
    `# GETok vocabulary: n = ${o.n}, token style ${o.style}, ${entries.length} tokens.\n` +
    '# LLaMA-Factory: new_special_tokens_config: <this file> (optionally init_special_tokens: desc_init).\n'
  return head + entries.map((e) => `${JSON.stringify(e.token)}: ${JSON.stringify(e.description)}`).join('\n') + '\n'
}

export function vocabToJson(entries: readonly VocabEntry[], o: VocabOptions): string {
  const doc = {grid: o.n, token_style: o.style, tags: o.tags, count: entries.length, tokens: entries}
  return JSON.stringify(doc, null, 1) + '\n'
}

export function formatVocabulary(format: VocabFormat, o: VocabOptions): string {
  const entries = vocabularyEntries(o)
  if (format === 'list') return vocabToList(entries)
  if (format === 'llamafactory') return vocabToLlamaFactoryYaml(entries, o)
  return vocabToJson(entries, o)
}

// ---- the check on write -----------------------------------------------------

/** Anything in angle brackets without whitespace: a candidate token. */
const ANGLE_TOKEN = /<[^<>\s]+>/g
/** What GETok tokens look like, in either spelling; other bracketed text (e.g. "<image>") is the trainer's. */
const GETOK_LIKE = /^<\/?(?:grid|off|delete|box|seg|pl|offset)[_>{]/i

/**
 * GETok-looking tokens in `text` that are not in the vocabulary. Structure tags
 * count as known even when the vocabulary leaves them out (they are then
 * ordinary text to the tokenizer).
 */
export function tokensOutsideVocabulary(text: string, vocabulary: ReadonlySet<string>): string[] {
  const bad: string[] = []
  for (const m of text.matchAll(ANGLE_TOKEN)) {
    const t = m[0]
    if (vocabulary.has(t) || (STRUCTURE_TAGS as readonly string[]).includes(t)) continue
    if (GETOK_LIKE.test(t)) bad.push(t)
  }
  return bad
}
