import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {GetokError} from '../../../src/core/errors.js'
import {TokenParseError} from '../../../src/core/grid/tokens.js'
import {type InspectRecord, parseRecord, readRecords, selectRecords} from '../../../src/pipeline/inspect/inspect-records.js'
import {tokensToAnswer} from '../../../src/pipeline/inspect/render-record.js'

const curate = {
  image: 'a.jpg',
  image_id: 1,
  ann_id: 10,
  category: 'cat',
  category_id: 17,
  width: 64,
  height: 48,
  grid: 16,
  points: [
    [3, 4],
    [5, 4],
  ],
  iou: 0.8,
  policy: 'best',
}

describe('parseRecord', () => {
  it('reads a curate record', () => {
    const r = parseRecord(curate, 'f.jsonl', 3)
    expect(r).toMatchObject({
      kind: 'curate',
      image: 'a.jpg',
      imageId: 1,
      annId: 10,
      grid: 16,
      cells: [
        [3, 4],
        [5, 4],
      ],
      iou: 0.8,
      policy: 'best',
    })
    expect(r.offsets).toBeUndefined()
  })

  it('falls back to the seg string, either spelling', () => {
    const {points: _, ...rest} = curate
    expect(parseRecord({...rest, seg: '<seg><grid_{3,4}><grid_5_4></seg>'}, 'f', 1).cells).toEqual([
      [3, 4],
      [5, 4],
    ])
  })

  it('reads an offsets record from its pairs, or from prev and target', () => {
    const pairs = [
      {point: [3, 4], region: 'ring', offset: [1, 0]},
      {point: [9, 9], region: 'far', offset: 'delete'},
    ]
    const fromPairs = parseRecord({image: 'a.jpg', ann_id: 2, grid: 16, pairs, flip_v: true}, 'f', 1)
    expect(fromPairs).toMatchObject({
      kind: 'offsets',
      cells: [
        [3, 4],
        [9, 9],
      ],
      offsets: [[1, 0], 'delete'],
      regions: ['ring', 'far'],
      flipV: true,
    })
    const fromTokens = parseRecord(
      {image: 'a.jpg', grid: 16, prev: '<seg><grid_3_4><grid_9_9></seg>', target: '<offset><seg><OFF_1_0><DELETE></seg></offset>'},
      'f',
      1,
    )
    expect(fromTokens).toMatchObject({
      kind: 'offsets',
      cells: [
        [3, 4],
        [9, 9],
      ],
      offsets: [[1, 0], 'delete'],
    })
  })

  it('takes the grid from the manifest config when the record has none', () => {
    const {grid: _, ...rest} = curate
    expect(parseRecord(rest, 'f', 1, {grid: 32}).grid).toBe(32)
  })

  it.each([
    [{...curate, image: undefined}, /line 4.*no image path/],
    [{...curate, points: [[3, 16]]}, /line 4 \(ann 10\).*bad grid point.*\[3,16\]/],
    [{...curate, points: undefined, seg: '<seg><grid_3_4><grid_x></seg>'}, /line 4 \(ann 10\).*character 15: unknown token <grid_x>/],
    [{image: 'a.jpg', grid: 16, pairs: [{point: [1, 1], offset: [2, 0]}]}, /bad offset/],
    [[1, 2], /record is not an object/],
  ])('refuses %j, naming file and line', (raw, message) => {
    let error: unknown
    try {
      parseRecord(raw, 'shard.jsonl', 4)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(GetokError)
    expect((error as Error).message).toMatch(/^shard\.jsonl/)
    expect((error as Error).message).toMatch(message)
  })
})

describe('parseRecord: decode rules', () => {
  const boxRule = {
    ...curate,
    decode: 'box',
    box: '<box><grid_1_2><grid_10_9></box>',
    box_offsets: '<offset><box><OFF_-1_0><OFF_0_1></box></offset>',
  }

  it('reads a box-rule curate record with its box tokens and corner moves; no rule, or union, is union', () => {
    expect(parseRecord(boxRule, 'f.jsonl', 1)).toMatchObject({
      rule: 'box',
      box: [
        [1, 2],
        [10, 9],
      ],
      boxMoves: [
        [-1, 0],
        [0, 1],
      ],
    })
    expect(parseRecord(curate, 'f.jsonl', 1)).toMatchObject({rule: 'union'})
    expect(parseRecord(curate, 'f.jsonl', 1).box).toBeUndefined()
    expect(parseRecord({...boxRule, decode: 'union'}, 'f.jsonl', 1).box).toBeUndefined()
  })

  it('reads a box-rule offsets record from box_prev and box_offsets', () => {
    const pairs = [{point: [3, 4], region: 'inside', offset: [0, 0]}]
    const r = parseRecord(
      {
        ...curate,
        points: undefined,
        pairs,
        decode: 'box',
        box_prev: '<box><grid_1_2><grid_10_9></box>',
        box_offsets: [
          [1, 1],
          [0, -1],
        ],
      },
      'o.jsonl',
      2,
    )
    expect(r).toMatchObject({
      kind: 'offsets',
      rule: 'box',
      boxMoves: [
        [1, 1],
        [0, -1],
      ],
    })
  })

  it('names the file, record and field of a box-rule record it cannot decode', () => {
    expect(() => parseRecord({...boxRule, box_offsets: undefined}, 'f.jsonl', 4)).toThrow(
      /f\.jsonl, line 4 \(ann 10\), field "box_offsets": a box-rule record needs its box offsets/,
    )
    expect(() => parseRecord({...boxRule, decode: 'boxes'}, 'f.jsonl', 4)).toThrow(/field "decode": unknown decode rule/)
    expect(() => parseRecord({...boxRule, box_offsets: '<offset><box><OFF_1_0></box></offset>'}, 'f.jsonl', 4)).toThrow(
      /field "box_offsets": not two box corner moves/,
    )
  })
})

describe('selectRecords', () => {
  const rec = (annId: number, imageId: number, category: string, iou?: number) =>
    ({
      kind: 'curate',
      file: 'f',
      line: annId,
      image: 'a.jpg',
      imageId,
      annId,
      category,
      categoryId: category === 'dog' ? 18 : 17,
      grid: 16,
      cells: [],
      iou,
    }) as InspectRecord
  const all = [rec(1, 10, 'cat', 0.9), rec(2, 10, 'dog', 0.3), rec(3, 11, 'cat', 0.6), rec(4, 12, 'cat', 0.1)]
  const ids = (rs: InspectRecord[]) => rs.map((r) => r.annId)

  it.each([
    [{}, [1, 2, 3, 4]],
    [{annIds: [3, 1]}, [1, 3]],
    [{imageIds: [10]}, [1, 2]],
    [{categories: ['cat']}, [1, 3, 4]],
    [{categories: ['18']}, [2]], // by category id
    [{worst: 2}, [4, 2]],
    [{best: 2}, [1, 3]],
    [{categories: ['cat'], worst: 5, limit: 2}, [4, 3]],
    [{limit: 1}, [1]],
  ])('%j → %j', (filter, expected) => {
    expect(ids(selectRecords(all, filter, 'src'))).toEqual(expected)
  })

  it('says which record is missing, and when the IoU order has no IoU', () => {
    expect(() => selectRecords(all, {annIds: [99]}, 'src')).toThrow(/no record with ann id 99/)
    expect(() => selectRecords(all, {imageIds: [77]}, 'src')).toThrow(/no record with image id 77/)
    expect(() => selectRecords([rec(5, 1, 'x')], {worst: 1}, 'src')).toThrow(/lack/)
    expect(() => selectRecords(all, {categories: ['zebra']}, 'src')).toThrow(/no record matches/)
  })
})

describe('readRecords', () => {
  it("refuses an eval or export folder by its manifest's command, pointing eval to --eval", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-inspect-kind-'))
    writeFileSync(path.join(dir, 'eval-00000-of-00001.jsonl'), JSON.stringify({line: 1, image: 'a.jpg', answer: '<seg></seg>'}) + '\n')
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({command: 'eval', shards: [{file: 'eval-00000-of-00001.jsonl'}]}))
    // before: 'eval-00000-of-00001.jsonl, line 1, field "points": record has neither points nor seg'
    await expect(readRecords(dir)).rejects.toThrow(
      /manifest\.json, field "command": not curate or offsets output: draw its samples with --eval/,
    )
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({command: 'export', shards: []}))
    await expect(readRecords(dir)).rejects.toThrow(
      /field "command": not curate or offsets output: expected "curate" or "offsets".*got "export"/,
    )
  })
})

describe('tokensToAnswer', () => {
  it('pairs offset groups with grid groups in order and decodes seg groups only', () => {
    const a = tokensToAnswer(
      '<seg><grid_1_1><grid_2_1></seg>, <box><grid_0_0><grid_3_3></box>',
      '<offset><seg><OFF_1_0><DELETE></seg></offset>, <offset><box><OFF_0_0><OFF_-1_1></box></offset>',
      4,
    )
    expect(a.marks).toEqual([
      {cell: [1, 1], offset: [1, 0]},
      {cell: [2, 1], offset: 'delete'},
      {cell: [0, 0], offset: [0, 0]},
      {cell: [3, 3], offset: [-1, 1]},
    ])
    expect(a.decode).toEqual([
      {
        cells: [
          [1, 1],
          [2, 1],
        ],
        offsets: [[1, 0], 'delete'],
      },
    ])
    expect(a.boxes).toEqual([
      [
        [0, 0],
        [3, 3],
      ],
    ])
  })

  it('accepts the offset round inside the token string too', () => {
    expect(tokensToAnswer('<seg><grid_1_1></seg><offset><seg><OFF_0_-1></seg></offset>', undefined, 4).marks).toEqual([
      {cell: [1, 1], offset: [0, -1]},
    ])
  })

  it('refuses unpaired or out-of-range input with the position', () => {
    expect(() => tokensToAnswer('<seg><grid_1_1></seg>', '<offset><seg><OFF_1_0><OFF_0_0></seg></offset>', 4)).toThrow(/pair one to one/)
    expect(() => tokensToAnswer('<seg><grid_1_1></seg>, <grid_2_2>', '<offset><seg><OFF_1_0></seg></offset>', 4)).toThrow(/do not pair/)
    expect(() => tokensToAnswer('<seg><grid_1_1><grid_4_0></seg>', undefined, 4)).toThrow(TokenParseError)
    expect(() => tokensToAnswer('<seg><grid_1_1><grid_4_0></seg>', undefined, 4)).toThrow(/character 15/)
  })

  it('takes the box rule for an answer shaped as box-rule data teaches, with the box offsets on its box', () => {
    const a = tokensToAnswer('<box><grid_0_0><grid_3_3></box><seg><grid_1_1></seg>', '<offset><box><OFF_0_0><OFF_-1_1></box></offset>', 4)
    expect(a.rule).toBe('box')
    expect(a.decode).toEqual([
      {
        cells: [[1, 1]],
        offsets: undefined,
        box: [
          [0, 0],
          [3, 3],
        ],
        boxMoves: [
          [0, 0],
          [-1, 1],
        ],
      },
    ])
    expect(a.marks).toEqual([{cell: [1, 1], offset: undefined}])
    // a seg alone, or a box alone (the box task), stays with the union rule; --decode box asks for a box
    expect(tokensToAnswer('<seg><grid_1_1></seg>', undefined, 4).rule).toBe('union')
    expect(tokensToAnswer('<box><grid_0_0><grid_3_3></box>', undefined, 4).rule).toBe('union')
    expect(tokensToAnswer('<box><grid_0_0><grid_3_3></box><seg><grid_1_1></seg>', undefined, 4, 'union').rule).toBe('union')
    expect(() => tokensToAnswer('<seg><grid_1_1></seg>', undefined, 4, 'box')).toThrow(/needs a <box> for every object/)
    expect(() =>
      tokensToAnswer('<box><grid_0_0><grid_3_3></box><seg><grid_1_1></seg>', '<offset><seg><OFF_0_0><OFF_0_0></seg></offset>', 4),
    ).toThrow(/--offsets.*2 offset tokens for 1 grid tokens/)
  })
})
