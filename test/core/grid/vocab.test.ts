import {describe, expect, it} from 'vitest'
import {vocabulary} from '../../../src/core/grid/tokens.js'
import {
  STRUCTURE_TAGS,
  formatVocabulary,
  tokensOutsideVocabulary,
  vocabToJson,
  vocabToList,
  vocabToLlamaFactoryYaml,
  vocabularyEntries,
} from '../../../src/core/grid/vocab.js'

const N32 = {n: 32, style: 'plain' as const, tags: false}

/** ms-swift reads a --new_special_tokens .txt file with text.split() (swift/arguments/base_args/model_args.py). */
const swiftReadsTxt = (text: string) => text.split(/\s+/).filter(Boolean)
/** LLaMA-Factory splits add_special_tokens on commas and strips each piece (hparams/model_args.py). */
const llamaFactoryReadsCommaList = (text: string) => text.split(',').map((t) => t.trim())

describe('vocabulary entries', () => {
  it.each([
    [16, false, 266],
    [32, false, 1034],
    [64, false, 4106],
    [32, true, 1042],
  ])('n = %i, tags %s: %i tokens, all distinct', (n, tags, count) => {
    const entries = vocabularyEntries({n, style: 'plain', tags})
    expect(entries.length).toBe(count)
    expect(new Set(entries.map((e) => e.token)).size).toBe(count)
  })

  it('keeps the order of tokens.vocabulary(), then the tags', () => {
    for (const style of ['plain', 'paper'] as const) {
      const tokens = vocabularyEntries({n: 32, style, tags: true}).map((e) => e.token)
      expect(tokens.slice(0, 1034)).toEqual(vocabulary(32, style))
      expect(tokens.slice(1034)).toEqual([...STRUCTURE_TAGS])
    }
  })

  it('describes each token in words', () => {
    const byToken = new Map(vocabularyEntries({...N32, tags: true}).map((e) => [e.token, e]))
    expect(byToken.get('<grid_3_19>')).toEqual({token: '<grid_3_19>', kind: 'grid', description: 'grid cell column 3 row 19'})
    expect(byToken.get('<OFF_0_0>')?.description).toBe('offset: keep this grid cell in place')
    expect(byToken.get('<OFF_1_1>')?.description).toBe('offset: move half a cell right and down')
    expect(byToken.get('<OFF_-1_0>')?.description).toBe('offset: move half a cell left')
    expect(byToken.get('<DELETE>')?.kind).toBe('delete')
    expect(byToken.get('</seg>')?.kind).toBe('tag')
    const flipped = vocabularyEntries({...N32, flipV: true}).find((e) => e.token === '<OFF_0_1>')
    expect(flipped?.description).toBe('offset: move half a cell up')
  })
})

describe('vocabulary files', () => {
  it("list: one token per line, read back whole by ms-swift, and by LLaMA-Factory's comma list in plain style", () => {
    const text = vocabToList(vocabularyEntries(N32))
    expect(text.endsWith('\n')).toBe(true)
    expect(text.split('\n').length).toBe(1035)
    expect(swiftReadsTxt(text)).toEqual(vocabulary(32))
    expect(llamaFactoryReadsCommaList(swiftReadsTxt(text).join(','))).toEqual(vocabulary(32))
    // the paper spelling survives ms-swift's whitespace split but not a comma list: docs/export.md says so
    const paper = vocabToList(vocabularyEntries({...N32, style: 'paper'}))
    expect(swiftReadsTxt(paper)).toEqual(vocabulary(32, 'paper'))
    expect(llamaFactoryReadsCommaList(swiftReadsTxt(paper).join(',')).length).toBeGreaterThan(1034)
  })

  it('llamafactory: a YAML map token → description, keys and values as double-quoted scalars', () => {
    for (const style of ['plain', 'paper'] as const) {
      const o = {n: 32, style, tags: true}
      const lines = vocabToLlamaFactoryYaml(vocabularyEntries(o), o)
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
      expect(lines.length).toBe(1042)
      // a JSON string is a YAML double-quoted scalar; each line is "key": "value"
      const map = Object.fromEntries(lines.map((l) => JSON.parse(`{${l}}`) as Record<string, string>).flatMap((o) => Object.entries(o)))
      expect(Object.keys(map)).toEqual(vocabularyEntries(o).map((e) => e.token))
      expect(map[style === 'plain' ? '<grid_3_19>' : '<grid_{3,19}>']).toBe('grid cell column 3 row 19')
    }
  })

  it('json: grid, style, count and the entries', () => {
    const doc = JSON.parse(vocabToJson(vocabularyEntries(N32), N32))
    expect(doc).toMatchObject({grid: 32, token_style: 'plain', tags: false, count: 1034})
    expect(doc.tokens[0]).toEqual({token: '<grid_0_0>', kind: 'grid', description: 'grid cell column 0 row 0'})
    expect(formatVocabulary('json', N32)).toBe(vocabToJson(vocabularyEntries(N32), N32))
  })
})

describe('tokensOutsideVocabulary', () => {
  const v = new Set(vocabulary(16))
  it.each([
    ['<seg><grid_1_2><grid_15_15></seg>', []],
    ['<offset><seg><OFF_-1_0><DELETE></seg></offset>', []],
    ['<image>Please segment the cat.', []],
    ['<seg><grid_16_0></seg>', ['<grid_16_0>']],
    ['<grid_{1,2}>', ['<grid_{1,2}>']],
    ['<OFF_2_0> <delete>', ['<OFF_2_0>', '<delete>']],
    ['a <b> and <segment> stay text', []],
  ])('%s', (text, bad) => {
    expect(tokensOutsideVocabulary(text, v)).toEqual(bad)
  })
})
