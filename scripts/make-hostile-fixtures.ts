/**
 * Writes fixtures/hostile/ (docs/robustness.md lists every case and what getok
 * does with it). Run once after changing a case: node dist/scripts/make-hostile-fixtures.js
 *
 *   fatal/*.json   one whole-run problem each: getok stops with a message, exit 2, writes nothing
 *   skips.json     many per-object and per-image problems in one file: each a counted skip with its reason,
 *                  next to odd-but-valid objects that must still give records
 *   images/        the pictures skips.json points at (small; the 10000 px one is two flat colours)
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import sharp from 'sharp'

const ROOT = path.resolve('fixtures/hostile')
const SAMPLE_JPEG = path.resolve('fixtures/sample/images/000000443303.jpg') // 500 × 375

type Json = Record<string, unknown>
const CATEGORIES = [{id: 1, name: 'thing'}]
const square = (x: number, y: number, s: number) => [[x, y, x + s, y, x + s, y + s, x, y + s]]

/** Images of skips.json: id, file, size; only those curated need a real file. */
const IMAGES: Json[] = [
  {id: 1, file_name: 'png16-alpha.png', width: 64, height: 48},
  {id: 2, file_name: 'one-pixel.png', width: 1, height: 1},
  {id: 3, file_name: 'wide-10000.png', width: 10000, height: 40},
  {id: 4, file_name: 'truncated.jpg', width: 500, height: 375},
  {id: 5, file_name: '../../etc/passwd', width: 640, height: 480},
  {id: 6, file_name: '/etc/passwd', width: 640, height: 480},
  {id: 7, file_name: 'not-an-image.jpg', width: 640, height: 480},
  {id: 8, file_name: 'missing.png', width: 640, height: 480},
  {id: 9, file_name: 'never-opened.jpg', width: 640, height: 480},
  {id: 10, file_name: 'images', width: 640, height: 480}, // a folder, not a file
]

const ann = (id: number, image_id: number, segmentation: unknown, extra: Json = {}): Json => ({
  id,
  image_id,
  category_id: 1,
  iscrowd: 0,
  segmentation,
  ...extra,
})

/** Per-object cases; the comment is the expected outcome (checked by test/commands/hostile.test.ts). */
const ANNOTATIONS: Json[] = [
  // record: 16-bit PNG with alpha; the polygon lies partly outside the image (clipped) and bbox and area are absurd
  // (box tokens clamp to the grid)
  ann(101, 1, [[-50, -50, 20, -50, 20, 20, -50, 20]], {bbox: [-1e9, -1e9, 1e12, 1e12], area: 1e15}),
  ann(201, 2, [[0, 0, 1, 0, 1, 1, 0, 1]]), // record: 1×1 image
  ann(301, 3, [[100, 5, 700, 5, 700, 35, 100, 35]]), // record: 10000 px wide image
  ann(401, 4, square(10, 10, 100)), // skip: cannot decode image (truncated JPEG)
  ann(501, 5, square(10, 10, 100)), // skip: file_name escapes the image root
  ann(601, 6, square(10, 10, 100)), // skip: file_name escapes the image root (absolute)
  ann(701, 7, square(10, 10, 100)), // skip: cannot decode image (text file)
  ann(801, 8, square(10, 10, 100)), // skip: image file not found
  ann(1001, 10, square(10, 10, 100)), // skip: cannot decode image (a folder)
  ann(901, 9, [[10, 10, 20, 20]]), // skip: polygon with 2 points
  ann(902, 9, [[10, 10, 20, 20, 30]]), // skip: odd number of coordinates
  ann(903, 9, [[10, 10, null, 20, 30, 30]]), // skip: NaN written as null
  ann(904, 9, [[10, 10, 'NaN', 20, 30, 30]]), // skip: NaN written as a string
  ann(905, 9, [[10, 10, 1e7, 20, 30, 30]]), // skip: huge coordinate
  ann(
    906,
    9,
    [[10, 10, 20, 20, 30, 30, 40, 40]].map((p) => p.map((v, k) => (k === 3 ? '1e400' : v))),
  ), // skip (written as 1e400 below): Infinity
  ann(907, 9, [Array.from({length: 80}, (_, k) => (k % 4 < 2 ? -9e5 : 9e5))]), // skip: edge walk too long to rasterise
  ann(908, 9, [[-100, -100, -50, -100, -50, -50, -100, -50]]), // skip: zero-area mask (entirely outside)
  ann(909, 9, {size: [480, 640], counts: [100, 50, 12]}), // skip: RLE counts do not sum to h·w
  ann(910, 9, {size: [480, 640], counts: [307300, -100]}), // skip: negative RLE count
  ann(911, 9, {size: [48, 64], counts: [3072]}), // skip: RLE size differs from the image's
  ann(912, 9, {size: [480, 640], counts: '###'}), // skip: compressed RLE that does not decode
  ann(913, 9, null), // skip: missing segmentation
  ann(914, 9, 42), // skip: segmentation of the wrong type
  {...ann(915, 9, square(1, 1, 5)), image_id: '9'}, // skip: image_id is a string
  {...ann(916, 9, square(1, 1, 5)), category_id: undefined}, // skip: category_id missing
  ann(917, 9, square(1, 1, 5), {bbox: '0,0,5,5'}), // skip: bbox of the wrong type
  ann(918, 9, square(1, 1, 5), {area: 'big'}), // skip: area of the wrong type
  ann(919, 9, square(1, 1, 5), {iscrowd: 2}), // skip: iscrowd not 0 or 1
  ann(920, 9, square(1, 1, 5)), // skip: image file never-opened.jpg not found
  ann(920, 9, square(1, 1, 5)), // skip: duplicate annotation id 920
  ann(921, 12345, square(1, 1, 5)), // skip: unknown image_id
  ann(922, 9, square(1, 1, 5), {category_id: 999}), // skip: unknown category_id
  ann(923, 9, [nest(2000)]), // skip: deeply nested polygon
  ann(924, 9, square(1, 1, 5), {bbox: [100, 100, -50, -50]}), // skip: bbox with negative width and height
  ann(925, 9, square(1, 1, 5), {bbox: [700, 10, 20, 20]}), // skip: bbox wholly outside the 640 × 480 image
  ann(926, 1, square(10, 10, 30), {bbox: [10, 10, 0, 30]}), // record: a bbox of zero width on the image
  ann(927, 9, [[10, 10, '162.47', 20, 30, 30]]), // skip: a coordinate written as a string (shown quoted)
]

function nest(depth: number): unknown {
  let v: unknown = [1]
  for (let k = 0; k < depth; k++) v = [v]
  return v
}

function cocoText(images: unknown, annotations: unknown, categories: unknown = CATEGORIES): string {
  return (
    `{"info": {"description": "getok hostile input"},\n"images": ${lines(images)},\n"annotations": ` +
    `${lines(annotations)},\n"categories": ${JSON.stringify(categories)}}\n`
  )
}

const lines = (v: unknown) => (Array.isArray(v) ? `[\n${v.map((x) => JSON.stringify(x)).join(',\n')}\n]` : JSON.stringify(v))

const ONE_IMAGE = [{id: 1, file_name: 'png16-alpha.png', width: 64, height: 48}]
const ONE_ANN = [ann(1, 1, square(10, 10, 30))]

/** Whole-run problems: file name → text (bytes where the text is not UTF-8). */
function fatalCases(): Record<string, string | Buffer> {
  const good = cocoText(ONE_IMAGE, ONE_ANN)
  return {
    'empty.json': '',
    'truncated.json': cocoText(IMAGES, ANNOTATIONS.slice(0, 12)).slice(0, 1500),
    'not-an-object.json': `[${good}]`,
    'nan-literal.json': cocoText(ONE_IMAGE, ONE_ANN).replace('[[10,10,40,10', '[[10,NaN,40,10'),
    'trailing-garbage.json': good + '}\n',
    'images-not-array.json': cocoText({id: 1, file_name: 'a.png', width: 64, height: 48}, ONE_ANN),
    'missing-annotations.json': `{"images": ${lines(ONE_IMAGE)}, "categories": ${JSON.stringify(CATEGORIES)}}`,
    'annotations-twice.json': good.replace('"categories"', `"annotations": ${lines(ONE_ANN)},\n"categories"`),
    'image-id-string.json': cocoText([{...ONE_IMAGE[0], id: 'one'}], ONE_ANN),
    'image-missing-file-name.json': cocoText([{id: 1, width: 64, height: 48}], ONE_ANN),
    'image-width-zero.json': cocoText([{...ONE_IMAGE[0], width: 0}], ONE_ANN),
    // valid JSON that parses to Infinity: the message shows Infinity, not JSON's null
    'image-width-1e400.json': cocoText([{...ONE_IMAGE[0], width: '1e400'}], ONE_ANN).replace('"1e400"', '1e400'),
    'image-height-string.json': cocoText([{...ONE_IMAGE[0], height: '48'}], ONE_ANN),
    'image-too-large.json': cocoText([{...ONE_IMAGE[0], width: 100000, height: 100000}], ONE_ANN),
    'duplicate-image-id.json': cocoText([...ONE_IMAGE, {...ONE_IMAGE[0], file_name: 'other.png'}], ONE_ANN),
    'duplicate-category-id.json': cocoText(ONE_IMAGE, ONE_ANN, [...CATEGORIES, {id: 1, name: 'again'}]),
    'category-name-number.json': cocoText(ONE_IMAGE, ONE_ANN, [{id: 1, name: 7}]),
    'annotation-missing-id.json': cocoText(ONE_IMAGE, [{...ONE_ANN[0], id: undefined}]),
    'annotation-not-object.json': cocoText(ONE_IMAGE, [...ONE_ANN, 'annotation']),
    // a file name saved in Latin-1: é is the one byte 0xe9, which UTF-8 decoders would turn into U+FFFD
    'not-utf8.json': Buffer.from(cocoText([{...ONE_IMAGE[0], file_name: 'café.png'}], ONE_ANN), 'latin1'),
  }
}

async function writeImages(dir: string): Promise<void> {
  // 16-bit RGBA PNG: a bright square on a dark ground, half transparent
  const w = 64
  const h = 48
  const rgba = new Uint16Array(w * h * 4)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= 10 && x < 40 && y >= 10 && y < 40
      rgba.set([inside ? 60000 : 8000, inside ? 50000 : 9000, inside ? 20000 : 12000, x < 32 ? 65535 : 30000], (y * w + x) * 4)
    }
  }
  await sharp(Buffer.from(rgba.buffer), {raw: {width: w, height: h, channels: 4, premultiplied: false}})
    .toColourspace('rgb16')
    .png()
    .toFile(path.join(dir, 'png16-alpha.png'))
  await sharp({create: {width: 1, height: 1, channels: 3, background: {r: 200, g: 30, b: 30}}})
    .png()
    .toFile(path.join(dir, 'one-pixel.png'))
  const wide = sharp({create: {width: 10000, height: 40, channels: 3, background: {r: 30, g: 60, b: 200}}})
  const block = await sharp({create: {width: 600, height: 30, channels: 3, background: {r: 230, g: 200, b: 40}}})
    .png()
    .toBuffer()
  await wide
    .composite([{input: block, left: 100, top: 5}])
    .png({compressionLevel: 9})
    .toFile(path.join(dir, 'wide-10000.png'))
  const jpeg = readFileSync(SAMPLE_JPEG)
  writeFileSync(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)))
  writeFileSync(path.join(dir, 'not-an-image.jpg'), 'this is text, not a JPEG\n')
  mkdirSync(path.join(dir, 'images'), {recursive: true})
  writeFileSync(path.join(dir, 'images', '.keep'), '')
}

async function main(): Promise<void> {
  const images = path.join(ROOT, 'images')
  mkdirSync(path.join(ROOT, 'fatal'), {recursive: true})
  mkdirSync(images, {recursive: true})
  await writeImages(images)
  // 1e400 is valid JSON that parses to Infinity; JSON.stringify cannot write it, so it is patched in
  writeFileSync(path.join(ROOT, 'skips.json'), cocoText(IMAGES, ANNOTATIONS).replace('"1e400"', '1e400'))
  for (const [name, text] of Object.entries(fatalCases())) writeFileSync(path.join(ROOT, 'fatal', name), text)
}

await main()
