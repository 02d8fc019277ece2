import {describe, expect, it} from 'vitest'
import {readCoco} from '../../../src/adapters/coco.js'
import {groundTruthCache, groundTruthOfSegmentation} from '../../../src/pipeline/eval/eval-lines.js'

describe('ground truth', () => {
  it('from the COCO file by ids, or brought with the sample as a segmentation, is the same mask', async () => {
    const data = await readCoco('fixtures/sample/instances.json')
    const image = data.images.get(219578)!
    const [dog, cat] = data.annotationsByImage.get(219578)!
    const byIds = groundTruthCache(data, image)
    const one = byIds([dog.id])
    const given = groundTruthOfSegmentation(dog.segmentation, image.width, image.height)
    expect(given.area).toBe(one.area)
    expect(given.mask.data).toEqual(one.mask.data)
    // the brought one's box is the mask's tight box: COCO's box to within a pixel
    given.boxXywh.forEach((v, k) => expect(Math.abs(v - dog.bbox[k])).toBeLessThanOrEqual(1.5))
    // several objects: the union of their masks, the box around their boxes
    const both = byIds([dog.id, cat.id])
    expect(both.area).toBeGreaterThan(one.area)
    expect(both.area).toBeLessThanOrEqual(one.area + byIds([cat.id]).area)
    expect(both.boxXywh[0]).toBeCloseTo(Math.min(dog.bbox[0], cat.bbox[0]), 6)
    expect(() => groundTruthOfSegmentation([[1, 2]], 10, 10)).toThrow()
  })
})
