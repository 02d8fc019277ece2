import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {answerBoxCorners, answerToPrompts, boxPrompt, clickPrompt, curationBox} from '../../../src/core/decode/prompts.js'
import {boxXywhToCorners} from '../../../src/core/grid/grid.js'

interface Coco {
  images: {id: number; width: number; height: number}[]
  annotations: {image_id: number; bbox: number[]}[]
}

// every box of the tiny-coco annotation files in fixtures/ (852 objects, 100 images)
const boxes = ['fixtures/coco/instances_val2017.json', 'fixtures/coco/instances_train2017.json'].flatMap((file) => {
  const coco = JSON.parse(readFileSync(file, 'utf8')) as Coco
  const size = new Map(coco.images.map((im) => [im.id, im]))
  return coco.annotations.map((a) => ({bbox: a.bbox, width: size.get(a.image_id)!.width, height: size.get(a.image_id)!.height}))
})

describe('curationBox', () => {
  it('puts each corner on the half-cell lattice point nearest the COCO corner (SPEC §8), with the box tokens of SPEC §2', () => {
    let ties = 0
    for (const n of [16, 32, 64]) {
      for (const {bbox, width, height} of boxes) {
        const grid = {n, width, height}
        const {box, boxMoves} = curationBox(bbox, grid)
        expect(box).toEqual(boxXywhToCorners(bbox, grid))
        for (const m of boxMoves) for (const d of m) expect([-1, 0, 1]).toContain(d)
        const [tl, br] = answerBoxCorners(box, boxMoves, grid)
        const [x, y, w, h] = bbox
        const want = [
          [x, width, tl[0]],
          [y, height, tl[1]],
          [x + w, width, br[0]],
          [y + h, height, br[1]],
        ]
        for (const [v, size, got] of want) {
          const half = (v * 2 * n) / size
          if (Math.abs(half - Math.floor(half) - 0.5) < 1e-9) {
            // exactly between two lattice points: either is nearest (the tie order picks)
            ties++
            expect(Math.abs(got - v)).toBeCloseTo(size / (4 * n), 9)
          } else expect(got).toBeCloseTo((Math.round(half) * size) / (2 * n), 9)
        }
      }
    }
    expect(ties).toBeLessThan(50)
  })
})

describe('answerToPrompts', () => {
  const grid = {n: 32, width: 640, height: 480}
  it('makes one click prompt per point under union and one box prompt under box', () => {
    const answer = {
      cells: [
        [4, 3],
        [5, 3],
      ] as [number, number][],
      box: [
        [1, 2],
        [10, 9],
      ] as [[number, number], [number, number]],
    }
    expect(answerToPrompts('union', answer, grid)).toEqual([clickPrompt([90, 52.5]), clickPrompt([110, 52.5])])
    // corners at their anchors, moved half a cell: (1.5·20 − 10, 2.5·15) and (10.5·20, 9.5·15 + 7.5)
    const moved = answerToPrompts(
      'box',
      {
        ...answer,
        boxMoves: [
          [-1, 0],
          [0, 1],
        ],
      },
      grid,
    )
    expect(moved).toEqual([
      boxPrompt(
        [20, 37.5],
        [210, 150],
        [
          [90, 52.5],
          [110, 52.5],
        ],
      ),
    ])
    expect(moved[0].labels).toEqual([2, 3, 1, 1])
    // deleted points drop out; the box alone is a valid prompt
    expect(answerToPrompts('box', {...answer, offsets: ['delete', 'delete']}, grid)[0].points).toHaveLength(2)
    expect(() => answerToPrompts('box', {cells: []}, grid)).toThrow(/needs a <box>/)
  })
})
