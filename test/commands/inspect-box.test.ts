import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {isBlue, isOrange, isRed, readPng} from '../helpers/png.js'
import Curate from '../../commands/curate.js'
import Inspect from '../../commands/inspect.js'
import {annotationToMask, readCoco} from '../../src/adapters/coco.js'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'
import {unionIou} from '../../src/core/selection/greedy.js'
import {type GridFrame, cellToAnchor} from '../../src/core/grid/grid.js'
import {decodeTokens} from '../../src/pipeline/decode/decode.js'
import type {InspectResult} from '../../src/pipeline/inspect/inspect-run.js'
import {SamEngine} from '../../src/sam/engine.js'

// A box-rule curate record (curate's default rule) of the dog in image 219578 (640×427), n = 32,
// drawn by inspect: decoded as one prompt (the moved box and the points), its prompt box drawn.
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const IMAGE = 219578
const DOG = 6910
const [W, H] = [640, 427]
const grid: GridFrame = {n: 32, width: W, height: H}
const tmp = (name: string) => mkdtempSync(path.join(tmpdir(), `getok-inspect-box-${name}-`))

interface BoxRecord {
  ann_id: number
  decode: string
  points: [number, number][]
  box: string
  box_offsets: string
  iou: number
}

describe('getok inspect: a box-rule record', () => {
  const curated = tmp('curated')
  const out = tmp('out')
  let record: BoxRecord
  let result: InspectResult
  let engine: SamEngine

  beforeAll(async () => {
    await Curate.run(['-a', ANN, '-i', IMAGES, '-o', curated, '--image-ids', String(IMAGE), '--categories', 'dog', '--threads', '1'], ROOT)
    const shard = readdirSync(curated).find((f) => f.endsWith('.jsonl'))!
    record = JSON.parse(readFileSync(path.join(curated, shard), 'utf8').split('\n')[0])
    result = await inspect([curated, '-a', ANN, '-i', IMAGES, '-o', out, '--threads', '1'])
    engine = await SamEngine.load({threads: 1})
  })
  afterAll(async () => engine?.release())
  const inspect = async (argv: string[]): Promise<InspectResult> => Inspect.run(argv, ROOT)

  // the box tokens' anchors and the corners SAM was given, from the record's tokens by SPEC §1 and §8
  function corners() {
    const cells = [...record.box.matchAll(/<grid_(\d+)_(\d+)>/g)].map((m) => [Number(m[1]), Number(m[2])])
    const moves = [...record.box_offsets.matchAll(/<OFF_(-?\d)_(-?\d)>/g)].map((m) => [Number(m[1]), Number(m[2])])
    expect(cells).toHaveLength(2)
    expect(moves).toHaveLength(2)
    const anchors = cells.map(([i, j]) => [((i + 0.5) * W) / 32, ((j + 0.5) * H) / 32])
    const moved = anchors.map(([x, y], k) => [x + (moves[k][0] * W) / 64, y + (moves[k][1] * H) / 64])
    return {anchors, moved, moves}
  }

  it("decodes under the record's rule to the record's iou, which the union of its points does not reach", async () => {
    expect(record).toMatchObject({ann_id: DOG, decode: 'box'})
    expect(record.points.length).toBeGreaterThan(0)
    expect(result.pictures[0].record_iou).toBe(record.iou)
    expect(Math.abs(result.pictures[0].iou! - record.iou)).toBeLessThan(1e-4)
    // the check can fail: the same points under the union rule give another IoU
    const photo = await loadImage(path.join(IMAGES, '000000219578.jpg'))
    const {rgb, frame} = await resizeForSam(photo)
    const embedding = await engine.encode(rgb, frame)
    const data = await readCoco(ANN)
    const gt = annotationToMask(
      data.annotationsByImage.get(IMAGE)!.find((a) => a.id === DOG)!,
      data.images.get(IMAGE)!,
    )
    const union = unionIou(gt, await decodeTokens(engine, embedding, {cells: record.points}, grid, 'single'))
    expect(Math.abs(union - record.iou)).toBeGreaterThan(0.01)
  })

  it('draws the prompt box between the moved corners, not the anchors, with the moves as arrows from the anchors', async () => {
    const png = readPng(result.files[0])
    expect(png.width).toBe(1024)
    const s = 1024 / W
    const {anchors, moved, moves} = corners()
    const [[x0, y0], [x1, y1]] = moved
    const [mx, my] = [(x0 + x1) / 2, (y0 + y1) / 2]
    // the rectangle's four sides, at their middles
    for (const [x, y] of [
      [mx, y0],
      [mx, y1],
      [x0, my],
      [x1, my],
    ])
      expect(png.near(x * s, y * s, isOrange), `box side at ${x},${y}`).toBe(true)
    // a corner that moved: no side where its anchor was, a red square on the anchor, a blue arrow to the corner
    const movedCorners = [0, 1].filter((k) => moves[k][0] !== 0 || moves[k][1] !== 0)
    expect(movedCorners.length).toBeGreaterThan(0)
    for (const k of [0, 1]) expect(isRed(png.at(anchors[k][0] * s, anchors[k][1] * s)), `anchor ${k}`).toBe(true)
    for (const k of movedCorners) {
      const [ax, ay] = anchors[k]
      const [cx, cy] = moved[k]
      if (moves[k][1] !== 0) expect(png.near(mx * s, ay * s, isOrange), `no side on anchor ${k}'s row`).toBe(false)
      if (moves[k][0] !== 0) expect(png.near(ax * s, my * s, isOrange), `no side on anchor ${k}'s column`).toBe(false)
      expect(png.near((ax + 0.75 * (cx - ax)) * s, (ay + 0.75 * (cy - ay)) * s, isBlue), `move of corner ${k}`).toBe(true)
    }
    // the grid points as today: red dots on their anchors
    for (const [i, j] of record.points) {
      const [x, y] = cellToAnchor(i, j, grid)
      expect(isRed(png.at(x * s, y * s)), `dot ${i},${j}`).toBe(true)
    }
  })

  it("decodes a box-rule answer (box, seg, then the box offsets) as eval does: the record's iou, the prompt box drawn", async () => {
    const out2 = tmp('answer')
    const answer = record.box + `<seg>${record.points.map(([i, j]) => `<grid_${i}_${j}>`).join('')}</seg>`
    const argv = ['--image', path.join(IMAGES, '000000219578.jpg'), '--tokens', answer]
    const r = await inspect([...argv, '--offsets', record.box_offsets, '-a', ANN, '--ann-id', String(DOG), '-o', out2, '--threads', '1'])
    // before: decoded as the union of the points, the box only outlined
    expect(Math.abs(r.pictures[0].iou! - record.iou)).toBeLessThan(1e-4)
    const png = readPng(r.files[0])
    const s = 1024 / W
    const [[x0, y0], [x1]] = corners().moved
    expect(png.near(((x0 + x1) / 2) * s, y0 * s, isOrange), 'prompt box top side').toBe(true)
    // --decode union still gives the paper's rule
    const union = await inspect([...argv, '-a', ANN, '--ann-id', String(DOG), '-o', out2, '--threads', '1', '--decode', 'union'])
    expect(Math.abs(union.pictures[0].iou! - record.iou)).toBeGreaterThan(0.01)
  })
})
