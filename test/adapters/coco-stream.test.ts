import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {type CocoDataset, parseCategoryRecord, parseImageRecord, readCoco} from '../../src/adapters/coco.js'
import {GetokError} from '../../src/core/errors.js'
import {SOURCES, buildStressFile} from '../../scripts/stress-coco.js'

// The streamed index against the whole-file read, on a 40 MB file made of replicated tiny-coco
// annotations (docs/scale.md has the 450 MB numbers). The memory check runs the built script.
const STRESS = path.resolve('dist/scripts/stress-coco.js')

describe('readCoco streams big files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'getok-stream-'))
  const file = path.join(dir, 'stress.json')
  let data: CocoDataset
  let raw: {
    images: unknown[]
    categories: unknown[]
    annotations: {id: number; image_id: number; segmentation: unknown; area: number; bbox: number[]; iscrowd: number}[]
  }

  beforeAll(async () => {
    await buildStressFile(file, 40e6, SOURCES)
    data = await readCoco(file)
    raw = JSON.parse(readFileSync(file, 'utf8'))
  })

  it('indexes the same images, categories and annotations as reading the whole file', () => {
    expect(statSync(file).size).toBeGreaterThan(40e6)
    expect([...data.images.values()]).toEqual(raw.images.map((r, k) => parseImageRecord(r, file, k)))
    expect(data.categories).toEqual(
      new Map(raw.categories.map((r, k) => Object.values(parseCategoryRecord(r, file, k)) as [number, string])),
    )
    expect(data.orphans).toEqual([])
    const byImage = new Map<number, number[]>([...data.images.keys()].map((id) => [id, []]))
    for (const a of raw.annotations) byImage.get(a.image_id)!.push(a.id)
    expect(new Map([...data.annotationsByImage].map(([id, anns]) => [id, anns.map((a) => a.id)]))).toEqual(byImage)
  })

  it('gives back each annotation exactly: fields in memory, segmentation read from its byte range', () => {
    const indexed = new Map([...data.annotationsByImage.values()].flat().map((a) => [a.id, a]))
    for (const a of raw.annotations.filter((_, k) => k % 97 === 0)) {
      const ann = indexed.get(a.id)!
      expect({area: ann.area, bbox: ann.bbox, iscrowd: ann.iscrowd, segmentation: ann.segmentation}).toEqual({
        area: a.area,
        bbox: a.bbox,
        iscrowd: a.iscrowd === 1,
        segmentation: a.segmentation,
      })
    }
  })

  it('indexes within a 64 MB JavaScript heap, where the whole-file read runs out of memory', () => {
    const run = (mode: string) => spawnSync(process.execPath, ['--max-old-space-size=64', STRESS, mode, file], {encoding: 'utf8'})
    const streamed = run('index')
    expect(streamed.status).toBe(0)
    const stats = JSON.parse(streamed.stdout)
    expect(stats.annotations).toBe(raw.annotations.length)
    expect(stats.peak_rss_mb).toBeLessThan(400)
    expect(run('whole').status).not.toBe(0)
  })

  it('refuses the file once it changed under the index', () => {
    const ann = data.annotationsByImage.get(raw.annotations[0].image_id)![0]
    const copy = path.join(dir, 'changing.json')
    writeFileSync(copy, readFileSync(file))
    return readCoco(copy).then((d) => {
      writeFileSync(copy, ' ' + readFileSync(file, 'utf8'))
      const moved = d.annotationsByImage.get(ann.imageId)![0]
      expect(() => moved.segmentation).toThrow(GetokError)
      expect(() => moved.segmentation).toThrow(/changing\.json, annotation \d+: the annotations file changed while it was in use/)
    })
  })
})
