import {describe, expect, it} from 'vitest'
import {fileURLToPath} from 'node:url'
import {readCoco} from '../../../src/adapters/coco.js'
import {type GridFrame, type Move} from '../../../src/core/grid/grid.js'
import type {Mask} from '../../../src/core/masks/mask.js'
import {type RegionOptions, type TieOrder, boxCornerTargets, classifyGrid, countRegions} from '../../../src/core/offsets/regions.js'
import {prepareObjects} from '../../../src/pipeline/shared/objects.js'

// ---- an independent reference, written from SPEC §5 without the classifier's code -------------

const AXIS_FIRST: Move[] = [
  [0, -1],
  [-1, 0],
  [1, 0],
  [0, 1],
  [-1, -1],
  [1, -1],
  [-1, 1],
  [1, 1],
]
const ROW_BY_ROW: Move[] = [
  [-1, -1],
  [0, -1],
  [1, -1],
  [-1, 0],
  [1, 0],
  [-1, 1],
  [0, 1],
  [1, 1],
]
const nonZeroInTieOrder = (ties: TieOrder) => (ties === 'axis-first' ? AXIS_FIRST : ROW_BY_ROW)

/** Continuous landing point: anchor (i + ½, j + ½) cells plus half a cell per move unit. */
function landing(i: number, j: number, [du, dv]: Move, f: GridFrame, flipV: boolean): [number, number] {
  return [((i + 0.5 + du / 2) * f.width) / f.n, ((j + 0.5 + (flipV ? -dv : dv) / 2) * f.height) / f.n]
}

/** Is the continuous point in G: the pixel that holds it is set; outside the image never. */
function inG(mask: Mask, x: number, y: number): boolean {
  if (x < 0 || y < 0 || x >= mask.width || y >= mask.height) return false
  return mask.data[Math.floor(y) * mask.width + Math.floor(x)] === 1
}

/** Squared distance from pixel (px, py) to the nearest background pixel, by growing square rings. */
function bruteDepth2(mask: Mask, px: number, py: number): number {
  let best = Infinity
  for (let r = 1; r <= Math.max(mask.width, mask.height) && r * r <= best; r++) {
    for (let y = py - r; y <= py + r; y++) {
      for (let x = px - r; x <= px + r; x++) {
        if (Math.max(Math.abs(x - px), Math.abs(y - py)) !== r) continue
        if (x < 0 || y < 0 || x >= mask.width || y >= mask.height || mask.data[y * mask.width + x]) continue
        best = Math.min(best, (x - px) ** 2 + (y - py) ** 2)
      }
    }
  }
  return best
}

/** Is pixel (px, py) within `band` cells (x scaled by n/W, y by n/H) of some pixel of G. */
function withinBand(mask: Mask, f: GridFrame, px: number, py: number, band: number): boolean {
  const rx = Math.floor((band * f.width) / f.n)
  const ry = Math.floor((band * f.height) / f.n)
  for (let y = Math.max(0, py - ry); y <= Math.min(mask.height - 1, py + ry); y++) {
    for (let x = Math.max(0, px - rx); x <= Math.min(mask.width - 1, px + rx); x++) {
      if (!mask.data[y * mask.width + x]) continue
      // (Δx·n/W)² + (Δy·n/H)² ≤ band², multiplied through by (W·H/n)² so that the band's edge is exact
      if (((x - px) * f.height) ** 2 + ((y - py) * f.width) ** 2 <= ((band * f.width * f.height) / f.n) ** 2) return true
    }
  }
  return false
}

/** Every violation of SPEC §5 by the classifier on one object, as readable lines. */
function violations(mask: Mask, f: GridFrame, o: RegionOptions): string[] {
  const out: string[] = []
  const got = classifyGrid(mask, f, o)
  const fail = (i: number, j: number, what: string) => out.length < 20 && out.push(`(${i},${j}) n=${f.n}: ${what}`)
  for (let j = 0; j < f.n; j++) {
    for (let i = 0; i < f.n; i++) {
      const region = got.regions[j * f.n + i]
      const target = got.targets[j * f.n + i]
      const anchorIn = inG(mask, ...landing(i, j, [0, 0], f, o.flipV))
      const landers = nonZeroInTieOrder(o.ties).filter((m) => inG(mask, ...landing(i, j, m, f, o.flipV)))
      // applying the target and dropping deletes leaves only points in G
      if (target !== 'delete' && !inG(mask, ...landing(i, j, target, f, o.flipV))) fail(i, j, `target ${target} lands outside G`)
      if (region === 'inside') {
        if (!anchorIn) fail(i, j, 'inside but the anchor is not in G')
        if (target === 'delete' || target[0] !== 0 || target[1] !== 0) fail(i, j, `inside with target ${target}`)
      } else if (region === 'ring') {
        if (anchorIn) fail(i, j, 'ring but the anchor is in G')
        if (target === 'delete') fail(i, j, 'ring with <DELETE>')
        else {
          const depth = (m: Move) => {
            const [x, y] = landing(i, j, m, f, o.flipV)
            return bruteDepth2(mask, Math.floor(x), Math.floor(y))
          }
          const deepest = Math.max(...landers.map(depth))
          const want = landers.find((m) => depth(m) === deepest)
          if (!want || want[0] !== target[0] || want[1] !== target[1]) fail(i, j, `ring move ${target}, deepest first is ${want}`)
        }
      } else {
        if (anchorIn || landers.length > 0) fail(i, j, `${region} but a move lands in G`)
        if (target !== 'delete') fail(i, j, `${region} with target ${target}`)
        const [ax, ay] = landing(i, j, [0, 0], f, o.flipV).map(Math.floor)
        const near = withinBand(mask, f, ax, ay, o.hardBand)
        if (near !== (region === 'hard_delete')) fail(i, j, `${region} but within band is ${near}`)
      }
    }
  }
  return out
}

// ---- hand-made masks ---------------------------------------------------------------------------

function maskOf(width: number, height: number, inside: (x: number, y: number) => boolean): Mask {
  const data = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = inside(x, y) ? 1 : 0
  return {width, height, data}
}

const rect = (x0: number, y0: number, x1: number, y1: number) => (x: number, y: number) => x >= x0 && x < x1 && y >= y0 && y < y1

const EDGE_CASES: {name: string; mask: Mask}[] = [
  {name: 'a single pixel, smaller than a cell', mask: maskOf(64, 64, rect(5, 5, 6, 6))},
  {name: '3×3 px, smaller than a cell', mask: maskOf(64, 64, rect(3, 3, 6, 6))},
  {name: 'two parts', mask: maskOf(96, 80, (x, y) => rect(5, 5, 30, 20)(x, y) || rect(60, 40, 90, 75)(x, y))},
  {name: 'a ring with a hole', mask: maskOf(80, 80, (x, y) => Math.hypot(x - 40, y - 40) < 30 && Math.hypot(x - 40, y - 40) >= 12)},
  {name: 'touching all four borders', mask: maskOf(64, 48, (x, y) => x < 3 || y < 2 || x >= 61 || y >= 47)},
  {name: 'the last pixel column only', mask: maskOf(64, 64, rect(63, 0, 64, 64))},
  {name: 'the whole image', mask: maskOf(40, 30, () => true)},
  {name: 'a thin diagonal line', mask: maskOf(70, 50, (x, y) => Math.abs(x - 1.4 * y) < 1)},
  {name: 'non-square image, odd sizes', mask: maskOf(101, 37, (x, y) => Math.hypot((x - 50) / 40, (y - 18) / 12) < 1)},
  {name: 'fewer pixels than grid points', mask: maskOf(50, 40, rect(10, 7, 31, 22))},
  {name: 'empty', mask: maskOf(20, 20, () => false)},
]

describe('classifyGrid on hand-made objects', () => {
  const cases = EDGE_CASES.flatMap((c) =>
    [16, 32, 64].flatMap((n) => [false, true].map((flipV) => ({...c, n, flipV, ties: (flipV ? 'moves' : 'axis-first') as TieOrder}))),
  )
  it.each(cases)('$name, n = $n, flipV $flipV: every point obeys the rule', ({mask, n, flipV, ties}) => {
    const frame = {n, width: mask.width, height: mask.height}
    expect(violations(mask, frame, {hardBand: 2, flipV, ties})).toEqual([])
  })

  it.each([0, 0.5, 3])('obeys the rule with band %f', (hardBand) => {
    const {mask} = EDGE_CASES[2]
    expect(violations(mask, {n: 16, width: mask.width, height: mask.height}, {hardBand, flipV: false, ties: 'axis-first'})).toEqual([])
  })
})

describe('classifyGrid, exact cases', () => {
  const square = maskOf(64, 64, rect(22, 22, 42, 42)) // n = 8: cell 8 px, step 4 px
  const frame = {n: 8, width: 64, height: 64}
  const opts: RegionOptions = {hardBand: 2, flipV: false, ties: 'axis-first'}
  const at = (g: ReturnType<typeof classifyGrid>, i: number, j: number) => [g.regions[j * 8 + i], g.targets[j * 8 + i]]

  it('draws the documented picture', () => {
    const g = classifyGrid(square, frame, opts)
    const ch = {inside: 'I', ring: 'R', hard_delete: 'H', far: '.'}
    const rows = Array.from({length: 8}, (_, j) =>
      g.regions
        .slice(j * 8, j * 8 + 8)
        .map((r) => ch[r])
        .join(''),
    )
    expect(rows).toEqual(['........', '.HHHHHH.', '.HRRRRH.', '.HRIIRH.', '.HRIIRH.', '.HRRRRH.', '.HHHHHH.', '........'])
    expect(countRegions(g.regions)).toEqual({inside: 4, ring: 12, hard_delete: 20, far: 28})
    expect(at(g, 2, 2)).toEqual(['ring', [1, 1]])
    expect(at(g, 3, 5)).toEqual(['ring', [0, -1]])
  })

  it('breaks depth ties axis-first by default, row by row on request', () => {
    // (2, 3) lands at x = 24 with moves [1,-1], [1,0], [1,1]: all 3 px deep
    expect(at(classifyGrid(square, frame, opts), 2, 3)).toEqual(['ring', [1, 0]])
    expect(at(classifyGrid(square, frame, {...opts, ties: 'moves'}), 2, 3)).toEqual(['ring', [1, -1]])
  })

  it('flips the sign of dv with flipV', () => {
    expect(at(classifyGrid(square, frame, {...opts, flipV: true}), 3, 2)).toEqual(['ring', [0, -1]])
    expect(at(classifyGrid(square, frame, opts), 3, 2)).toEqual(['ring', [0, 1]])
  })

  it('treats the landing point x = W as outside the image', () => {
    const g = classifyGrid(maskOf(64, 64, rect(63, 0, 64, 64)), frame, opts)
    expect(at(g, 7, 3)).toEqual(['hard_delete', 'delete'])
  })

  it('chooses the deeper of two landing points', () => {
    // from (2, 3), anchor (20, 28): [1, 0] lands on a 1 px wide spike of G (depth 1), [1, 1] on (24, 32), 3 px deep
    const g = classifyGrid(
      maskOf(64, 64, (x, y) => (x >= 22 && y >= 30) || (x === 24 && y >= 24)),
      frame,
      opts,
    )
    expect(at(g, 2, 3)).toEqual(['ring', [1, 1]])
  })

  it('rejects a frame of another size', () => {
    expect(() => classifyGrid(square, {n: 8, width: 32, height: 64}, opts)).toThrow(/64×64/)
  })
})

describe('classifyGrid on every tiny-coco val object (n = 32)', async () => {
  const data = await readCoco(fileURLToPath(new URL('../../../fixtures/coco/instances_val2017.json', import.meta.url)))
  const objects = [...data.images.values()].flatMap((image) =>
    prepareObjects(image, data.annotationsByImage.get(image.id)!, true).objects.map((o) => ({image, ...o})),
  )

  it('covers all the fixture objects', () => expect(objects.length).toBe(382))

  it('every point of every object obeys the rule', () => {
    const bad: string[] = []
    for (const {image, ann, mask} of objects) {
      const v = violations(mask, {n: 32, width: image.width, height: image.height}, {hardBand: 2, flipV: false, ties: 'axis-first'})
      if (v.length > 0) bad.push(`annotation ${ann.id}: ${v.slice(0, 3).join('; ')}`)
    }
    expect(bad).toEqual([])
  })

  it('box corners: nearest anchor, then the move nearest the true corner', () => {
    for (const {image, bbox} of objects) {
      const f = {n: 32, width: image.width, height: image.height}
      const got = boxCornerTargets(bbox, f, {flipV: false, ties: 'axis-first'})
      const corners: [number, number][] = [
        [bbox[0], bbox[1]],
        [bbox[0] + bbox[2], bbox[1] + bbox[3]],
      ]
      corners.forEach(([x, y], c) => {
        const d2 = (p: [number, number]) => (p[0] - x) ** 2 + (p[1] - y) ** 2
        const cells = Array.from({length: 32 * 32}, (_, k) => [k % 32, Math.floor(k / 32)] as [number, number])
        const nearest = Math.min(...cells.map(([i, j]) => d2(landing(i, j, [0, 0], f, false))))
        expect(d2(landing(...got[c].cell, [0, 0], f, false))).toBeCloseTo(nearest, 9)
        const best = Math.min(...[[0, 0] as Move, ...AXIS_FIRST].map((m) => d2(landing(...got[c].cell, m, f, false))))
        expect(d2(landing(...got[c].cell, got[c].move, f, false))).toBeCloseTo(best, 9)
      })
    }
  })
})
