import {describe, it, expect} from 'vitest'
import {readFileSync} from 'node:fs'
import {
  checkRleCounts,
  maskToRle,
  rleArea,
  rleFromString,
  rleToBoxXywh,
  rleToMask,
  rleToString,
  rleUnion,
} from '../../../src/core/masks/rle.js'
import {type Mask, maskArea, maskToBoxXywh, unionInto} from '../../../src/core/masks/mask.js'

const FIXTURE = new URL('../../../fixtures/coco/instances_val2017.json', import.meta.url)
/** pycocotools' C output for the same data: see fixtures/coco/SOURCE.md */
const GOLDEN = new URL('../../../fixtures/coco/pycocotools-golden.json', import.meta.url)

interface GoldenRle {
  id: number
  height: number
  width: number
  area: number
  counts: string
  boxXywh: [number, number, number, number]
}
interface CrowdAnn {
  id: number
  area: number
  bbox: number[]
  segmentation: {counts: number[]; size: [number, number]}
}

/**
 * Reference encoder written from the COCO description alone (BigInt, no shared
 * code): from index 3 on, a count is replaced by its difference to counts[i-2];
 * a value is cut into 5-bit groups, low first; the last group is the one after
 * which the remaining (arithmetically shifted) value is only sign bits that
 * agree with the group's bit 0x10; 0x20 marks "more follows"; +48 makes a char.
 */
function referenceEncode(counts: number[]): string {
  let out = ''
  counts.forEach((count, i) => {
    let x = BigInt(count) - (i > 2 ? BigInt(counts[i - 2]) : 0n)
    for (;;) {
      const group = Number(BigInt.asUintN(5, x))
      x >>= 5n
      const last = group & 0x10 ? x === -1n : x === 0n
      out += String.fromCharCode(48 + group + (last ? 0 : 0x20))
      if (last) break
    }
  })
  return out
}

function seededRandom(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function randomMask(rand: () => number, width: number, height: number, density: number): Mask {
  const data = new Uint8Array(width * height)
  // blobs of runs rather than salt noise, so counts vary in size
  let value = rand() < 0.5 ? 1 : 0
  for (let k = 0; k < data.length; k++) {
    if (rand() < density) value ^= 1
    data[k] = value
  }
  return {width, height, data}
}

describe('compressed RLE strings (maskApi.c rleToString / rleFrString)', () => {
  // Strings below were produced by pycocotools' own C rleToString and also follow from the header's rules by hand.
  const known: [number[], string][] = [
    [[0, 3, 1], '031'],
    [[1, 3, 2], '132'],
    [[100], 'T3'], // 100 = 4 + 3·32 → (4|0x20)+48 'T', 3+48 '3'
    [[1, 3, 10, 2], '13:O'], // index 3: 2 − 3 = −1 → 0x1f + 48 = 'O'
    [[5, 1000000, 3, 999990, 7], '5Pb`n03F4'], // 3 groups for 10^6, delta −10 at index 3
    [[307200], 'PP\\9'], // 640·480 empty mask, 4 groups
    [[0, 16, 31, 15, 32, 1], '0`0o0O1B'], // 16 needs a sign-clearing group; −16 and −31 deltas
    [[2, 40000, 70000, 1, 1, 300000, 5], '2PRW1`[T2QnhNadkMonT94'],
  ]

  it.each(known)('%j ↔ %s', (counts, text) => {
    expect(rleToString(counts)).toBe(text)
    expect(referenceEncode(counts)).toBe(text)
    expect(rleFromString(text)).toEqual(counts)
  })

  it('agrees with the reference encoder and round-trips on random counts', () => {
    const rand = seededRandom(7)
    for (let t = 0; t < 500; t++) {
      const n = 1 + Math.floor(rand() * 12)
      const scale = [2, 40, 2000, 3e6, 2 ** 31][t % 5]
      const counts = Array.from({length: n}, () => Math.floor(rand() * scale))
      const text = rleToString(counts)
      expect(text).toBe(referenceEncode(counts))
      expect(text).toMatch(/^[0-o]*$/)
      expect(rleFromString(text)).toEqual(counts)
    }
  })

  it('empty counts ↔ empty string', () => {
    expect(rleToString([])).toBe('')
    expect(rleFromString('')).toEqual([])
  })

  it.each([
    ['T', /ends inside a count/], // continuation bit on the last char
    ['13 2', /invalid char " "/], // below '0'
    ['13p', /invalid char "p"/], // above 'o'
    ['012K', /negative count/], // index 3: 2 + (−5) < 0
    ['_'.repeat(20) + '0', /too long/],
  ])('rejects malformed %j', (text, message) => {
    expect(() => rleFromString(text)).toThrow(message)
  })
})

describe('column-major RLE ↔ row-major Mask', () => {
  it('reads columns first on a non-square mask (the header example)', () => {
    // h = 2, w = 3; rows: [0 1 0], [1 1 0]
    const mask: Mask = {width: 3, height: 2, data: Uint8Array.from([0, 1, 0, 1, 1, 0])}
    const rle = maskToRle(mask)
    expect(rle).toEqual({height: 2, width: 3, counts: [1, 3, 2]})
    expect(rleToMask(rle)).toEqual(mask)
    expect(rleArea(rle)).toBe(3)
    expect(rleToBoxXywh(rle)).toEqual([0, 0, 2, 2])
  })

  it('the transposed shape gives different counts', () => {
    // h = 3, w = 2; rows: [0 1], [1 1], [0 0] → columns (0,1,0) then (1,1,0)
    const mask: Mask = {width: 2, height: 3, data: Uint8Array.from([0, 1, 1, 1, 0, 0])}
    expect(maskToRle(mask).counts).toEqual([1, 1, 1, 2, 1])
    expect(rleToMask({height: 3, width: 2, counts: [1, 1, 1, 2, 1]})).toEqual(mask)
  })

  it('starts with an empty 0-run when the first pixel is set; all-zero and all-one masks', () => {
    expect(maskToRle({width: 2, height: 2, data: Uint8Array.from([1, 0, 0, 0])}).counts).toEqual([0, 1, 3])
    expect(maskToRle({width: 2, height: 2, data: new Uint8Array(4)}).counts).toEqual([4])
    expect(maskToRle({width: 2, height: 2, data: new Uint8Array(4).fill(1)}).counts).toEqual([0, 4])
    expect(rleToBoxXywh({height: 2, width: 2, counts: [4]})).toBeNull()
  })

  it('round-trips random masks, with area and box matching the mask', () => {
    const rand = seededRandom(42)
    for (let t = 0; t < 200; t++) {
      const width = 1 + Math.floor(rand() * 40)
      const height = 1 + Math.floor(rand() * 40)
      const mask = randomMask(rand, width, height, [0.01, 0.1, 0.5][t % 3])
      const rle = maskToRle(mask)
      expect(checkRleCounts(rle.counts, height, width)).toBeNull()
      expect(rleToMask(rle)).toEqual(mask)
      expect(rleArea(rle)).toBe(maskArea(mask))
      expect(rleToBoxXywh(rle)).toEqual(maskToBoxXywh(mask))
      expect(rleFromString(rleToString(rle.counts))).toEqual(rle.counts)
    }
  })

  it('box covers the full column height when a run wraps into the next column', () => {
    // h = 4, w = 3: run of 3 from position 2 covers (x0,y2) (x0,y3) (x1,y0)
    expect(rleToBoxXywh({height: 4, width: 3, counts: [2, 3, 7]})).toEqual([0, 0, 2, 4])
  })
})

describe('rleUnion', () => {
  it('equals the union of the masks, in canonical counts', () => {
    const rand = seededRandom(3)
    for (let t = 0; t < 100; t++) {
      const width = 1 + Math.floor(rand() * 20)
      const height = 1 + Math.floor(rand() * 20)
      const masks = Array.from({length: 1 + (t % 4)}, () => randomMask(rand, width, height, 0.1))
      const expected: Mask = {width, height, data: new Uint8Array(width * height)}
      for (const m of masks) unionInto(expected, m)
      expect(rleUnion(masks.map(maskToRle))).toEqual(maskToRle(expected))
    }
  })

  it('handles touching runs, empty inputs and refuses mixed sizes', () => {
    const a = {height: 2, width: 3, counts: [1, 2, 3]} // positions 1..2
    const b = {height: 2, width: 3, counts: [3, 3]} // positions 3..5
    expect(rleUnion([a, b]).counts).toEqual([1, 5])
    expect(rleUnion([{height: 2, width: 3, counts: [6]}]).counts).toEqual([6])
    expect(() => rleUnion([a, {height: 3, width: 2, counts: [6]}])).toThrow(/sizes differ/)
  })
})

describe('checkRleCounts', () => {
  it.each([
    [[1, 3, 2], 2, 3, null],
    [[1, 3, 1], 2, 3, /sum to 5, expected h·w = 2·3 = 6/],
    [[1, -3, 8], 2, 3, /count 1 must be a non-negative integer/],
    [[1, 2.5, 2.5], 2, 3, /count 1 must be a non-negative integer/],
    [[1, '3', 2], 2, 3, /count 1 must be a non-negative integer/],
  ] as const)('%j for %i×%i', (counts, h, w, expected) => {
    const got = checkRleCounts(counts, h, w)
    if (expected === null) expect(got).toBeNull()
    else expect(got).toMatch(expected)
  })

  it('rleToMask refuses counts that do not sum to h·w', () => {
    expect(() => rleToMask({height: 2, width: 3, counts: [1, 3]})).toThrow(/sum to 4/)
  })
})

describe('tiny-coco crowd annotations (uncompressed RLE)', () => {
  const coco = JSON.parse(readFileSync(FIXTURE, 'utf8'))
  const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')).crowd as GoldenRle[]
  const crowds = coco.annotations.filter((a: {iscrowd: number}) => a.iscrowd === 1)
  const rows = crowds.map((a: CrowdAnn) => [a.id, a, golden.find((g) => g.id === a.id)])

  it('has the 5 crowd RLEs, each with a pycocotools reference', () => {
    expect(crowds).toHaveLength(5)
    for (const row of rows) expect(row[2]).toBeDefined()
  })

  it.each(rows)('annotation %i: mask, area, box and compressed string agree with pycocotools', (_id, ann, ref) => {
    const {counts, size} = (ann as CrowdAnn).segmentation
    const rle = {height: size[0], width: size[1], counts}
    const {area, boxXywh, counts: text} = ref as GoldenRle
    expect(checkRleCounts(counts, rle.height, rle.width)).toBeNull()
    const mask = rleToMask(rle)
    expect(maskArea(mask)).toBe(area)
    expect(rleArea(rle)).toBe(area)
    expect(rleToBoxXywh(rle)).toEqual(boxXywh)
    expect(maskToBoxXywh(mask)).toEqual(boxXywh)
    expect(maskToRle(mask).counts).toEqual(counts)
    expect(rleToString(counts)).toBe(text)
    expect(rleFromString(text)).toEqual(counts)
  })

  it.each(rows)('annotation %i: COCO quirks of crowd records (area field above mask area, box 1 px smaller)', (_id, ann) => {
    // COCO's crowd `area` is not the RLE's pixel count: it is 4% to 65% larger on these 5.
    // Its `bbox` has the mask box's x, y but a width and height one pixel smaller.
    const {segmentation, area, bbox} = ann as CrowdAnn
    const rle = {height: segmentation.size[0], width: segmentation.size[1], counts: segmentation.counts}
    expect(area).toBeGreaterThan(rleArea(rle))
    expect(area).toBeLessThan(1.7 * rleArea(rle))
    const [x, y, w, h] = rleToBoxXywh(rle)!
    expect(bbox).toEqual([x, y, w - 1, h - 1])
  })
})
