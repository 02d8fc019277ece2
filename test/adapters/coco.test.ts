import {describe, it, expect} from 'vitest'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {
  type CocoDataset,
  annotationToMask,
  parseAnnotationRecord,
  parseImageRecord,
  parseJsonFile,
  readCoco,
  segmentationToRle,
} from '../../src/adapters/coco.js'
import {GetokError} from '../../src/core/errors.js'
import {maskArea, maskToBoxXywh} from '../../src/core/masks/mask.js'
import {rleToString} from '../../src/core/masks/rle.js'

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/coco/${name}`, import.meta.url))

/** The error readCoco throws for a file, checked to be a GetokError. */
async function readError(file: string): Promise<GetokError> {
  const error = await readCoco(file).then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(GetokError)
  return error as GetokError
}

function annotationCount(data: CocoDataset): number {
  return [...data.annotationsByImage.values()].reduce((n, anns) => n + anns.length, 0)
}

describe('readCoco on tiny-coco val2017 (fixture)', async () => {
  const file = fixture('instances_val2017.json')
  const data = await readCoco(file)

  it('reads every image, category and annotation, with no skips', () => {
    expect(data.file).toBe(file)
    expect(data.images.size).toBe(50)
    expect(data.categories.size).toBe(80)
    expect(data.categories.get(1)).toBe('person')
    expect(annotationCount(data)).toBe(382)
    expect(data.orphans).toEqual([])
    expect(data.images.get(397133)).toEqual({id: 397133, fileName: '000000397133.jpg', width: 640, height: 427})
  })

  it('lists every image, 2 of them without annotations, and keeps file order within an image', () => {
    const raw = parseJsonFile(readFileSync(file, 'utf8'), file) as {
      annotations: {id: number; image_id: number}[]
    }
    expect([...data.annotationsByImage.values()].filter((a) => a.length === 0)).toHaveLength(2)
    for (const [imageId, anns] of data.annotationsByImage) {
      const expected = raw.annotations.filter((a) => a.image_id === imageId).map((a) => a.id)
      expect(anns.map((a) => a.id)).toEqual(expected)
    }
  })

  it('turns every annotation into a non-empty mask at its image size; 5 are crowds', () => {
    let crowds = 0
    for (const [imageId, anns] of data.annotationsByImage) {
      const image = data.images.get(imageId)!
      for (const ann of anns) {
        const mask = annotationToMask(ann, image)
        expect([mask.width, mask.height]).toEqual([image.width, image.height])
        expect(maskArea(mask)).toBeGreaterThan(0)
        if (ann.iscrowd) crowds++
      }
    }
    expect(crowds).toBe(5)
  })
})

describe('readCoco on labelme-voc (odd but valid COCO)', async () => {
  const data = await readCoco(fixture('labelme-voc.json'))

  it('accepts image ids from 0, category 0, subfolder file names', () => {
    expect([...data.images.keys()]).toEqual([0, 1, 2])
    expect(data.images.get(0)).toEqual({id: 0, fileName: 'JPEGImages/2011_000003.jpg', width: 500, height: 338})
    expect(data.categories.get(0)).toBe('_background_')
    expect(data.categories.size).toBe(21)
    expect(data.orphans).toEqual([])
    expect(annotationCount(data)).toBe(12)
  })

  it('ORs multi-part polygons (annotation 11 has 4 parts)', () => {
    const ann = data.annotationsByImage.get(2)!.find((a) => a.id === 11)!
    expect((ann.segmentation as unknown[]).length).toBe(4)
    const mask = annotationToMask(ann, data.images.get(2)!)
    // labelme's own area comes from another rasteriser (PIL); ours is pycocotools' (see polygon.test.ts)
    expect(maskArea(mask) / ann.area).toBeCloseTo(1, 1)
  })
})

describe('readCoco on tiny-coco train2017', () => {
  it('reads 50 images and 470 annotations with no skips', async () => {
    const data = await readCoco(fixture('instances_train2017.json'))
    expect(data.images.size).toBe(50)
    expect(annotationCount(data)).toBe(470)
    expect(data.orphans).toEqual([])
  })
})

describe('per-annotation problems become skips with a reason', async () => {
  const data = await readCoco(fixture('broken/bad-annotations.json'))
  const reasonOf = (id: number) => data.orphans.find((o) => o.ann.id === id)?.reason

  it.each([
    [2, 'unknown image_id 999'],
    [3, 'segmentation: polygon part 0 has 2 points, at least 3 needed'],
    [4, 'segmentation: RLE counts sum to 45, expected h·w = 6·8 = 48'],
    [5, 'zero-area mask'], // collinear points
    [6, 'zero-area mask'], // a real but sub-pixel triangle: no pixel centre inside
    [7, 'segmentation: RLE size [4, 4] disagrees with image size [6, 8] (h, w)'],
    [8, 'missing segmentation'],
    [10, /^segmentation: compressed RLE ends inside a count/],
    [11, 'unknown category_id 7'],
    [14, 'segmentation: polygon part 0 has an odd number of coordinates (5)'],
    [15, 'image_id is not an integer: got "139"'],
    [16, 'segmentation: polygon part 0 coordinate 2 is not a finite number: null'],
  ])('annotation %i: %s', (id, reason) => {
    if (typeof reason === 'string') expect(reasonOf(id)).toBe(reason)
    else expect(reasonOf(id)).toMatch(reason)
  })

  it('a repeated annotation id is skipped after its first use', () => {
    expect(data.orphans.filter((o) => o.ann.id === 1).map((o) => o.reason)).toEqual(['duplicate annotation id 1'])
    expect(data.annotationsByImage.get(139)!.filter((a) => a.id === 1)).toHaveLength(1)
  })

  it('keeps the good ones, in file order', () => {
    expect(data.annotationsByImage.get(139)!.map((a) => a.id)).toEqual([1, 9, 17])
    expect(data.annotationsByImage.get(200)!.map((a) => a.id)).toEqual([12])
    expect(data.orphans).toHaveLength(13)
  })

  it('decodes compressed RLE and fills a null area and bbox from the mask', () => {
    const ann = data.annotationsByImage.get(139)!.find((a) => a.id === 9)!
    // ":5Q1" = [10, 5, 33] on 6×8: column-major positions 10..14 = (x1, y4), (x1, y5), (x2, y0..2)
    expect(ann.area).toBe(5)
    expect(ann.bbox).toEqual([1, 0, 2, 6])
    const mask = annotationToMask(ann, data.images.get(139)!)
    const set = [...mask.data.keys()].filter((k) => mask.data[k]).map((k) => [k % 8, Math.floor(k / 8)])
    expect(set).toEqual([
      [2, 0],
      [2, 1],
      [2, 2],
      [1, 4],
      [1, 5],
    ])
  })

  it('uncompressed RLE, multi-part polygons and file values', () => {
    const image = data.images.get(200)!
    expect(image.fileName).toBe('sub/000000000200.jpg')
    const crowd = data.annotationsByImage.get(200)![0]
    expect(crowd).toMatchObject({iscrowd: true, area: 2, bbox: [1, 1, 1, 2], categoryId: 0})
    expect(maskToBoxXywh(annotationToMask(crowd, image))).toEqual([1, 1, 1, 2])
    const twoParts = data.annotationsByImage.get(139)!.find((a) => a.id === 17)!
    expect(maskArea(annotationToMask(twoParts, data.images.get(139)!))).toBe(8)
  })

  it('annotationToMask throws the same reason as the skip', () => {
    const image = data.images.get(139)!
    for (const id of [3, 4, 5, 8, 10]) {
      const {ann} = data.orphans.find((o) => o.ann.id === id)!
      expect(() => annotationToMask(ann, image)).toThrow(reasonOf(id)!)
    }
  })
})

describe('whole-run problems throw a GetokError naming file, record and field', () => {
  it('a missing file', async () => {
    const file = fixture('broken/no-such-file.json')
    const error = await readError(file)
    expect(error.place.file).toBe(file)
    expect(error.message).toContain(file)
    expect(error.message).toMatch(/cannot read the annotations file \(ENOENT\)/)
  })

  it('invalid JSON, with its position', async () => {
    const file = fixture('broken/invalid-json.json')
    const error = await readError(file)
    expect(error.message).toContain(file)
    // the stray comma before "}" on line 3
    expect(error.message).toMatch(/invalid JSON at line 3, column 74 \(byte 89\) in images\[0\]/)
  })

  it('a missing images array', async () => {
    const file = fixture('broken/missing-images.json')
    const error = await readError(file)
    expect(error.place).toEqual({file, field: 'images'})
    expect(error.message).toBe(`${file}, field "images": missing "images" array: expected an array, got undefined`)
  })

  it('an image with a bad width', async () => {
    const file = fixture('broken/bad-image-size.json')
    const error = await readError(file)
    expect(error.place).toEqual({file, record: 'image 285', field: 'width'})
    expect(error.message).toBe(`${file}, image 285, field "width": bad image width: expected a positive integer, got 0`)
  })

  it('bytes that are not UTF-8, with their position and the annotation they are in (not U+FFFD)', async () => {
    // tiny-coco val with a Latin-1 "café" added to annotation 152432
    const bytes = readFileSync(fixture('instances_val2017.json'))
    const at = bytes.indexOf('"id": 152432')
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'getok-utf8-')), 'latin1.json')
    writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.from('"note": "caf\xe9", ', 'latin1'), bytes.subarray(at)]))
    const bad = at + '"note": "caf'.length
    const line = bytes.subarray(0, at).toString('latin1').split('\n').length
    const column = bad - bytes.lastIndexOf(0x0a, at)
    const error = await readError(file)
    expect(error.place).toEqual({file, record: 'annotation 152432'})
    expect(error.message).toBe(
      `${file}, annotation 152432: invalid UTF-8 at line ${line}, column ${column} (byte ${bad}): ` +
        'bytes 0xe9 0x22 do not form a character; save the file as UTF-8',
    )
  })

  it('a duplicate image id', async () => {
    const file = fixture('broken/duplicate-image-id.json')
    const error = await readError(file)
    expect(error.place).toEqual({file, record: 'image 139', field: 'id'})
    expect(error.message).toMatch(/duplicate image id/)
  })
})

describe('record parsers', () => {
  it.each([
    [{id: 1.5, file_name: 'a.jpg', width: 1, height: 1}, 'images[3]', 'id', /expected an integer, got 1.5/],
    [{id: 7, file_name: '', width: 1, height: 1}, 'image 7', 'file_name', /expected a non-empty string, got ""/],
    [{id: 7, file_name: 'a.jpg', width: 1, height: -2}, 'image 7', 'height', /expected a positive integer, got -2/],
    [{id: 7, file_name: 'a.jpg', width: '640', height: 1}, 'image 7', 'width', /got "640"/],
  ])('parseImageRecord(%j)', (raw, record, field, message) => {
    const error = (() => {
      try {
        parseImageRecord(raw, 'x.json', 3)
      } catch (e) {
        return e as GetokError
      }
    })()
    expect(error?.place).toEqual({file: 'x.json', record, field})
    expect(error?.message).toMatch(message)
  })

  it('parseImageRecord accepts extra and null fields', () => {
    const raw = {id: 0, file_name: 'JPEGImages/a.jpg', width: 5, height: 3, license: null, url: null}
    expect(parseImageRecord(raw, 'x.json', 0)).toEqual({id: 0, fileName: 'JPEGImages/a.jpg', width: 5, height: 3})
  })

  it('parseAnnotationRecord throws only without an object or integer id', () => {
    expect(() => parseAnnotationRecord([], 'x.json', 4)).toThrow(/x.json, annotations\[4\]: annotation record is not an object/)
    expect(() => parseAnnotationRecord({id: null}, 'x.json', 4)).toThrow(/x.json, annotations\[4\], field "id": bad annotation id/)
    const {ann, reason} = parseAnnotationRecord({id: 3, image_id: 1, category_id: 2, segmentation: [], bbox: [1, 2, 3]}, 'x.json', 0)
    expect(ann.id).toBe(3)
    expect(reason).toBe('bbox is not [x, y, w, h]: got [1,2,3]')
  })

  it('segmentationToRle reduces a list of RLE objects to their union', () => {
    const image = {id: 1, fileName: 'a.jpg', width: 2, height: 2}
    const rle = segmentationToRle(
      [
        {size: [2, 2], counts: [0, 1, 3]},
        {size: [2, 2], counts: '211'},
      ],
      image,
    )
    expect(rle.counts).toEqual([0, 1, 1, 1, 1])
    expect(rleToString(rle.counts)).toBe('01100') // deltas against counts[i-2] from index 3: 1 − 1 = 0
  })
})

describe('parseJsonFile', () => {
  it.each([
    ['{"a": }', 'line 1, column 7 (char 6)'],
    ['{"a": 1', 'line 1, column 8 (char 7)'],
    ['', 'line 1, column 1 (char 0)'],
    ['{\n"a": 1,\n"b": tru\n}', 'line 3, column 6 (char 15)'],
    ['[1,2]x', 'line 1, column 6 (char 5)'],
    ['["a\\q"]', 'line 1, column 5 (char 4)'],
  ])('%j fails at %s', (text, where) => {
    expect(() => parseJsonFile(text, 'f.json')).toThrow(`f.json: invalid JSON at ${where}`)
  })

  it('ignores a byte-order mark', () => {
    expect(parseJsonFile('\ufeff{"images": []}', 'f.json')).toEqual({images: []})
  })
})
