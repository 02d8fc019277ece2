import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import sharp from 'sharp'
import {beforeAll, describe, expect, it} from 'vitest'
import {loadImage, resizeForSam} from '../../src/adapters/images.js'

// Variants of a real COCO photo (500×375), made with sharp in a temp folder.
const PHOTO = 'fixtures/sample/images/000000443303.jpg'
const dir = mkdtempSync(path.join(tmpdir(), 'getok-images-'))
const file = (name: string) => path.join(dir, name)

async function meanRgb(rgb: Uint8Array): Promise<[number, number, number]> {
  const s = [0, 0, 0]
  for (let k = 0; k < rgb.length; k++) s[k % 3] += rgb[k]
  const n = rgb.length / 3
  return [s[0] / n, s[1] / n, s[2] / n]
}

describe('loadImage / resizeForSam', () => {
  beforeAll(async () => {
    await sharp(PHOTO).greyscale().jpeg().toFile(file('grey.jpg'))
    await sharp(PHOTO).toColourspace('cmyk').jpeg().toFile(file('cmyk.jpg'))
    await sharp(PHOTO).png().toFile(file('photo.png'))
    await sharp(PHOTO).ensureAlpha().png().toFile(file('alpha.png'))
    // stored rotated 90° with EXIF orientation 8: viewers (and getok) show it upright, 500×375
    await sharp(PHOTO).rotate(90).withMetadata({orientation: 8}).jpeg().toFile(file('exif8.jpg'))
  })

  it('reads the size of the upright picture', async () => {
    expect(await loadImage(PHOTO)).toMatchObject({width: 500, height: 375})
    const rotated = await loadImage(file('exif8.jpg'))
    expect([rotated.width, rotated.height]).toEqual([500, 375])
  })

  it.each(['grey.jpg', 'cmyk.jpg', 'photo.png', 'alpha.png', 'exif8.jpg'])('gives 3-channel sRGB in the SAM frame for %s', async (name) => {
    const {rgb, frame} = await resizeForSam(await loadImage(file(name)))
    expect(frame).toMatchObject({resizedWidth: 1024, resizedHeight: 768})
    expect(rgb.length).toBe(1024 * 768 * 3)
  })

  it('keeps pixels in place across formats and EXIF orientation', async () => {
    const ref = (await resizeForSam(await loadImage(PHOTO))).rgb
    for (const name of ['photo.png', 'exif8.jpg']) {
      const rgb = (await resizeForSam(await loadImage(file(name)))).rgb
      let diff = 0
      for (let k = 0; k < rgb.length; k++) diff += Math.abs(rgb[k] - ref[k])
      expect(diff / rgb.length).toBeLessThan(6) // JPEG re-encoding only; a wrong rotation gives ~50
    }
    // CMYK without an ICC profile shifts colours a little, not the picture
    const cmyk = await meanRgb((await resizeForSam(await loadImage(file('cmyk.jpg')))).rgb)
    const refMean = await meanRgb(ref)
    for (let c = 0; c < 3; c++) expect(Math.abs(cmyk[c] - refMean[c])).toBeLessThan(15)
    const grey = await meanRgb((await resizeForSam(await loadImage(file('grey.jpg')))).rgb)
    expect(Math.abs(grey[0] - grey[1])).toBeLessThan(1)
  })

  it('names the file when it is missing or not an image', async () => {
    await expect(loadImage(file('nope.jpg'))).rejects.toThrow(/nope\.jpg: image file not found/)
    await expect(loadImage('fixtures/sample/instances.json')).rejects.toThrow(/instances\.json: cannot decode image/)
  })
})
