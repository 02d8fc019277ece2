import {describe, expect, it} from 'vitest'
import {
  cellNeighbours,
  cellToAnchor,
  indexToCell,
  cellToIndex,
  landingPoint,
  pointToCell,
  pointToNearestCell,
  sortCellsRaster,
} from '../../../src/core/grid/grid.js'

describe('grid geometry', () => {
  const f = {n: 32, width: 640, height: 480}

  it('puts anchors at cell centres (SPEC §1 example)', () => {
    expect(cellToAnchor(4, 3, f)).toEqual([90, 52.5])
    expect(cellToAnchor(0, 0, f)).toEqual([10, 7.5])
    expect(cellToAnchor(31, 31, f)).toEqual([630, 472.5])
  })

  it.each([16, 32, 64])('maps every anchor back to its own cell at n = %i, non-square image', (n) => {
    const g = {n, width: 427, height: 640}
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const [x, y] = cellToAnchor(i, j, g)
        expect(pointToCell(x, y, g)).toEqual([i, j])
        expect(pointToNearestCell(x, y, g)).toEqual([i, j])
      }
    }
  })

  it('clamps pixels on the far edge into the last cell', () => {
    expect(pointToCell(640, 480, f)).toEqual([31, 31])
    expect(pointToCell(-3, 0, f)).toEqual([0, 0])
  })

  it('sends a box corner to the nearest anchor, ties to the lower index', () => {
    // anchors along x at 10, 30, 50 …: x = 29 is nearest to 30 (cell 1), x = 20 is a tie between 10 and 30
    expect(pointToNearestCell(29, 0, f)[0]).toBe(1)
    expect(pointToNearestCell(20, 0, f)[0]).toBe(0)
    expect(pointToNearestCell(41, 0, f)[0]).toBe(2)
    expect(pointToNearestCell(640, 480, f)).toEqual([31, 31])
  })

  it('moves half a cell per offset unit, dv = +1 down unless flipped', () => {
    // cell is 20×15 px, so half a cell is 10×7.5
    expect(landingPoint(4, 3, [1, 1], f)).toEqual([100, 60])
    expect(landingPoint(4, 3, [-1, 0], f)).toEqual([80, 52.5])
    expect(landingPoint(4, 3, [0, 1], f, true)).toEqual([90, 45])
  })

  it('orders cells by row, then column, without duplicates', () => {
    expect(
      sortCellsRaster(
        [
          [5, 2],
          [1, 3],
          [9, 1],
          [5, 2],
          [0, 2],
        ],
        32,
      ),
    ).toEqual([
      [9, 1],
      [0, 2],
      [5, 2],
      [1, 3],
    ])
    expect(indexToCell(cellToIndex(7, 11, 32), 32)).toEqual([7, 11])
  })

  it('lists the 8-connected neighbours of a cell, clipped at the grid edge', () => {
    expect(cellNeighbours(0, 4)).toEqual([1, 4, 5])
    expect(cellNeighbours(5, 4)).toEqual([0, 1, 2, 4, 6, 8, 9, 10])
    expect(cellNeighbours(15, 4)).toEqual([10, 11, 14])
  })

  it('lists the 4 edge-sharing neighbours with connectivity 4, clipped at the grid edge', () => {
    expect(cellNeighbours(0, 4, 4)).toEqual([1, 4])
    expect(cellNeighbours(5, 4, 4)).toEqual([1, 4, 6, 9])
    expect(cellNeighbours(7, 4, 4)).toEqual([3, 6, 11])
    // every edge neighbour is an 8-neighbour one grid step away along one axis only
    for (let k = 0; k < 64; k++) {
      for (const q of cellNeighbours(k, 8, 4)) {
        expect(cellNeighbours(k, 8)).toContain(q)
        expect(Math.abs((q % 8) - (k % 8)) + Math.abs(Math.floor(q / 8) - Math.floor(k / 8))).toBe(1)
      }
    }
  })
})
