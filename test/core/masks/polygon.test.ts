import {describe, it, expect} from 'vitest'
import {readFileSync} from 'node:fs'
import {checkPolygon, polygonShoelaceArea, polygonToRle, polygonsToMask} from '../../../src/core/masks/polygon.js'
import {maskArea, maskToBoxXywh} from '../../../src/core/masks/mask.js'
import {maskToRle, rleArea, rleToString} from '../../../src/core/masks/rle.js'

const fixture = (name: string) => new URL(`../../../fixtures/coco/${name}`, import.meta.url)

interface RawImage {
  id: number
  width: number
  height: number
}
interface RawAnn {
  id: number
  image_id: number
  area: number
  iscrowd: number
  segmentation: unknown
}
interface RawCoco {
  images: RawImage[]
  annotations: RawAnn[]
}
interface GoldenObject {
  set: string
  id: number
  height: number
  width: number
  area: number
  counts: string
  boxXywh: [number, number, number, number]
  polygons?: number[][]
}

const readJson = (url: URL) => JSON.parse(readFileSync(url, 'utf8'))

/** Every polygon annotation of a COCO file with its image size. */
function polygonObjects(coco: RawCoco): {ann: RawAnn; polys: number[][]; height: number; width: number}[] {
  const images = new Map(coco.images.map((im) => [im.id, im]))
  return coco.annotations
    .filter((a) => Array.isArray(a.segmentation))
    .map((ann) => {
      const im = images.get(ann.image_id)!
      return {ann, polys: ann.segmentation as number[][], height: im.height, width: im.width}
    })
}

function perimeter(poly: number[]): number {
  const n = poly.length / 2
  let total = 0
  for (let k = 0; k < n; k++) {
    const l = (k + 1) % n
    total += Math.hypot(poly[2 * l] - poly[2 * k], poly[2 * l + 1] - poly[2 * k + 1])
  }
  return total
}

describe('polygonsToMask by hand', () => {
  it('an integer-vertex rectangle covers exactly the pixels inside it', () => {
    // [2, 7) × [3, 9): columns 2..6, rows 3..8, 5 · 6 = 30 pixels
    const mask = polygonsToMask([[2, 3, 7, 3, 7, 9, 2, 9]], 12, 10)
    for (let y = 0; y < 12; y++) {
      for (let x = 0; x < 10; x++) {
        const inside = x >= 2 && x <= 6 && y >= 3 && y <= 8
        expect(mask.data[y * 10 + x], `pixel (${x}, ${y})`).toBe(inside ? 1 : 0)
      }
    }
    expect(maskArea(mask)).toBe(30)
    expect(maskToBoxXywh(mask)).toEqual([2, 3, 5, 6])
    expect(polygonShoelaceArea([2, 3, 7, 3, 7, 9, 2, 9])).toBe(30)
  })

  it('vertex order does not matter (clockwise, counter-clockwise, rotated start)', () => {
    const a = polygonsToMask([[1.2, 0.7, 8.4, 2.1, 5.3, 9.6]], 11, 10)
    const b = polygonsToMask([[5.3, 9.6, 8.4, 2.1, 1.2, 0.7]], 11, 10)
    const c = polygonsToMask([[8.4, 2.1, 5.3, 9.6, 1.2, 0.7]], 11, 10)
    expect(b).toEqual(a)
    expect(c).toEqual(a)
  })

  it('clips to the image', () => {
    // [-5, 5) × [-5, 5) on a 3×4 image covers columns 0..3, rows 0..2
    const mask = polygonsToMask([[-5, -5, 5, -5, 5, 5, -5, 5]], 3, 4)
    expect(maskArea(mask)).toBe(12)
  })

  it('ORs the parts of one object: disjoint parts add up, overlap counts once', () => {
    const left = [0, 0, 2, 0, 2, 2, 0, 2] // 4 px
    const right = [5, 1, 8, 1, 8, 4, 5, 4] // 9 px
    const overlapping = [1, 1, 3, 1, 3, 3, 1, 3] // 4 px, 1 shared with `left`
    expect(maskArea(polygonsToMask([left, right], 6, 10))).toBe(13)
    expect(maskArea(polygonsToMask([left, overlapping], 6, 10))).toBe(7)
    // A single polygon ring over the same area would toggle twice; parts never do.
    expect(rleArea(polygonToRle(left, 6, 10))).toBe(4)
  })

  it('a degenerate (zero-area) polygon gives an empty mask, not an error', () => {
    expect(maskArea(polygonsToMask([[3, 3, 3, 3, 3, 3]], 8, 8))).toBe(0)
    expect(maskArea(polygonsToMask([[1, 1, 6, 1, 3.5, 1]], 8, 8))).toBe(0)
  })

  it.each([
    [[], /polygon list is empty/],
    [[[1, 2, 3, 4]], /part 0 has 2 points, at least 3 needed/],
    [
      [
        [1, 2, 3, 4, 5, 6],
        [1, 2, 3, 4, 5],
      ],
      /part 1 has an odd number of coordinates \(5\)/,
    ],
    [[[1, 2, 3, NaN, 5, 6]], /part 0 coordinate 3 is not a finite number: NaN/],
    [[[1, 2, 3, Infinity, 5, 6]], /coordinate 3 is not a finite number/],
    [[[1, 2, '3', 4, 5, 6]], /coordinate 2 is not a finite number/],
    [[[1, 2, 3, 4, 5, 6e9]], /coordinate 5 is out of range/],
    [[{x: 1}], /part 0 is not a list of numbers/],
  ])('rejects %j', (polys, message) => {
    expect(() => polygonsToMask(polys as unknown[], 10, 10)).toThrow(message)
  })

  it('checkPolygon accepts a valid part', () => {
    expect(() => checkPolygon([0, 0, 1, 0, 0, 1])).not.toThrow()
  })
})

describe('polygonsToMask against pycocotools (C rleFrPoly + merge)', () => {
  const golden = readJson(fixture('pycocotools-golden.json')).objects as GoldenObject[]
  const sources: Record<string, Map<number, number[][]>> = {
    val: new Map(polygonObjects(readJson(fixture('instances_val2017.json'))).map((o) => [o.ann.id, o.polys])),
    labelme: new Map(polygonObjects(readJson(fixture('labelme-voc.json'))).map((o) => [o.ann.id, o.polys])),
  }

  it.each(['val', 'labelme', 'stress'])('set %s: the same pixels, bit for bit', (set) => {
    const objects = golden.filter((g) => g.set === set)
    expect(objects.length).toBeGreaterThan(10)
    for (const g of objects) {
      const polys = g.polygons ?? sources[set].get(g.id)!
      const mask = polygonsToMask(polys, g.height, g.width)
      const where = `${set} ${g.id}`
      expect(rleToString(maskToRle(mask).counts), where).toBe(g.counts)
      expect(maskArea(mask), where).toBe(g.area)
      expect(maskToBoxXywh(mask) ?? [0, 0, 0, 0], where).toEqual(g.boxXywh)
    }
  })
})

describe('tiny-coco: rasterised area vs the `area` field', () => {
  // COCO's polygon `area` is the polygon's geometric (shoelace) area summed over parts,
  // not the pixel count of its mask, so the two differ along the boundary: the difference is
  // bounded by the perimeter (a boundary pixel is in or out as a whole), and relatively
  // large only for tiny objects.
  it('val2017 (fixture)', () => checkAreas('val2017 (fixture)', fixture('instances_val2017.json')))
  it('train2017 (fixture)', () => checkAreas('train2017 (fixture)', fixture('instances_train2017.json')))

  function checkAreas(name: string, url: URL): void {
    const objects = polygonObjects(readJson(url))
    let worstRelative = 0
    let worstPerPerimeter = 0
    let within1 = 0
    let mediumLarge = 0
    let mediumLargeWithin1 = 0
    for (const {ann, polys, height, width} of objects) {
      const shoelace = polys.reduce((sum, p) => sum + polygonShoelaceArea(p), 0)
      expect(Math.abs(shoelace - ann.area), `annotation ${ann.id}`).toBeLessThan(1e-6 * Math.max(1, ann.area))
      const diff = Math.abs(maskArea(polygonsToMask(polys, height, width)) - ann.area)
      const relative = diff / ann.area
      worstRelative = Math.max(worstRelative, relative)
      worstPerPerimeter = Math.max(worstPerPerimeter, diff / polys.reduce((sum, p) => sum + perimeter(p), 0))
      if (relative <= 0.01) within1++
      if (ann.area >= 32 * 32) {
        mediumLarge++
        if (relative <= 0.01) mediumLargeWithin1++
      }
    }
    const stats = {
      objects: objects.length,
      worstRelative: +worstRelative.toFixed(4),
      worstAbsPerPerimeterPx: +worstPerPerimeter.toFixed(3),
      within1pct: +(within1 / objects.length).toFixed(3),
      within1pctAtLeast32x32: +(mediumLargeWithin1 / mediumLarge).toFixed(3),
    }
    console.log(`polygon raster area vs COCO area, ${name}:`, JSON.stringify(stats))
    expect(worstPerPerimeter).toBeLessThan(0.5)
    expect(worstRelative).toBeLessThan(0.35)
    expect(within1 / objects.length).toBeGreaterThan(0.75)
    expect(mediumLargeWithin1 / mediumLarge).toBeGreaterThanOrEqual(0.95)
  }
})
