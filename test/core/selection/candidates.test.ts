import {describe, expect, it} from 'vitest'
import {allIndices, cellCoverage, cellsTouchedByMask, dilateCells, objectPool} from '../../../src/core/selection/candidates.js'
import {pointToCell} from '../../../src/core/grid/grid.js'
import {discMask, seededRandom} from '../../helpers/disc-world.js'

describe('cell coverage and pools', () => {
  // a non-square image whose sides are not multiples of n, so cells differ in size
  const f = {n: 8, width: 61, height: 43}

  it('gives each cell the share of its pixels the mask sets, counted pixel by pixel', () => {
    const rand = seededRandom(7)
    for (let t = 0; t < 5; t++) {
      const mask = discMask(rand() * 61, rand() * 43, 3 + rand() * 15, f.width, f.height)
      const set = new Array(64).fill(0)
      const all = new Array(64).fill(0)
      for (let y = 0; y < f.height; y++) {
        for (let x = 0; x < f.width; x++) {
          const [i, j] = pointToCell(x + 0.5, y + 0.5, f)
          all[j * 8 + i]++
          set[j * 8 + i] += mask.data[y * f.width + x]
        }
      }
      const got = cellCoverage(mask, f)
      for (let k = 0; k < 64; k++) expect(got[k]).toBeCloseTo(set[k] / all[k], 6)
      expect([...cellsTouchedByMask(mask, f)]).toEqual(set.map((v) => (v > 0 ? 1 : 0)))
    }
  })

  it('grows the touched cells by the margin into the pool, clipped at the grid edge', () => {
    const mask = discMask(3, 2.5, 1.5, f.width, f.height)
    expect(objectPool(mask, f, 0)).toEqual([0])
    expect(objectPool(mask, f, 1)).toEqual([0, 1, 8, 9])
    expect(objectPool(mask, f, 8)).toEqual(allIndices(8))
    const cells = new Uint8Array(64)
    cells[27] = 1
    expect([...dilateCells(cells, 8, 1)].flatMap((v, k) => (v ? [k] : []))).toEqual([18, 19, 20, 26, 27, 28, 34, 35, 36])
  })
})
