import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

// The hostile corpus (fixtures/hostile, made by scripts/make-hostile-fixtures.ts; docs/robustness.md)
// through the built CLI: a clear error or a counted skip with its reason, never a stack trace,
// a hang or partial output.
const BIN = path.resolve('bin/run.js')
const HOSTILE = 'fixtures/hostile'
const IMAGES = ['-i', `${HOSTILE}/images`]

function getok(args: string[]) {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8', timeout: 120_000})
  return {code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.replace(/\s+/g, ' ')}
}

const NO_STACK = /at .*\.js:\d+|node:internal/

describe('hostile annotation files that stop the run (exit 2, nothing written)', () => {
  it.each([
    ['empty.json', /empty\.json: invalid JSON at line 1, column 1 \(byte 0\), near "": empty input: expected a JSON object/],
    [
      'truncated.json',
      /truncated\.json: invalid JSON at line 22, column \d+ \(byte 1500\).*unexpected end of input inside annotations\[7\]/,
    ],
    ['nan-literal.json', /nan-literal\.json: invalid JSON at line 6, column 70 \(byte 212\) in annotations\[0\], near ".*NaN/],
    [
      'trailing-garbage.json',
      /trailing-garbage\.json: invalid JSON at line 9, column 1 \(byte 280\).*unexpected data after the end of the top-level object/,
    ],
    ['not-an-object.json', /not-an-object\.json: not a COCO instances file: expected a JSON object/],
    ['images-not-array.json', /images-not-array\.json, field "images": missing "images" array: expected an array, got \{"id":1/],
    ['missing-annotations.json', /missing-annotations\.json, field "annotations": missing "annotations" array/],
    ['annotations-twice.json', /annotations-twice\.json, field "annotations": "annotations" appears twice at the top level/],
    ['image-id-string.json', /image-id-string\.json, images\[0\], field "id": bad image id: expected an integer, got "one"/],
    [
      'image-missing-file-name.json',
      /image-missing-file-name\.json, image 1, field "file_name": bad file name: expected a non-empty string, got undefined/,
    ],
    ['image-width-zero.json', /image-width-zero\.json, image 1, field "width": bad image width: expected a positive integer, got 0/],
    [
      'image-width-1e400.json',
      /image-width-1e400\.json, image 1, field "width": bad image width: expected a positive integer, got Infinity/,
    ],
    [
      'image-height-string.json',
      /image-height-string\.json, image 1, field "height": bad image height: expected a positive integer, got "48"/,
    ],
    [
      'image-too-large.json',
      /image-too-large\.json, image 1, field "width\/height": image too large: expected at most 400000000 pixels .*got 100000x100000/,
    ],
    ['duplicate-image-id.json', /duplicate-image-id\.json, image 1, field "id": duplicate image id/],
    ['duplicate-category-id.json', /duplicate-category-id\.json, category 1, field "id": duplicate category id/],
    ['category-name-number.json', /category-name-number\.json, category 1, field "name": bad category name: expected a string, got 7/],
    [
      'annotation-missing-id.json',
      /annotation-missing-id\.json, annotations\[0\], field "id": bad annotation id: expected an integer, got undefined/,
    ],
    [
      'annotation-not-object.json',
      /annotation-not-object\.json, annotations\[1\]: annotation record is not an object: expected an object, got "annotation"/,
    ],
    [
      'not-utf8.json',
      /not-utf8\.json, image 1: invalid UTF-8 at line 3, column 25 \(byte 85\): bytes 0xe9 0x2e do not form a character; save the file as UTF-8/,
    ],
  ])('%s', (name, message) => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'getok-hostile-')), 'out')
    for (const command of ['curate', 'offsets']) {
      const r = getok([command, '-a', `${HOSTILE}/fatal/${name}`, ...IMAGES, '-o', out, '--grid', '16'])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr).not.toMatch(NO_STACK)
      expect(existsSync(out)).toBe(false)
    }
  })
})

describe('hostile objects and images: counted skips with their reasons (curate, real SAM)', () => {
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'getok-hostile-')), 'out')
  let run: ReturnType<typeof getok>
  let manifest: {skips: {ann_id: number; reason: string}[]; summary: {records: number; skipped: number}}
  let records: {ann_id: number; tokens: number; iou: number; decode: string; box: string; width: number}[]

  beforeAll(() => {
    run = getok(['curate', '-a', `${HOSTILE}/skips.json`, ...IMAGES, '-o', out, '--grid', '16', '--json'])
    manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))
    records = readdirSync(out)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) =>
        readFileSync(path.join(out, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      )
  })

  it('finishes, with complete shards and no leftovers', () => {
    expect(run.code).toBe(0)
    expect(run.stderr).not.toMatch(NO_STACK)
    expect(readdirSync(out).filter((f) => /\.(partial|journal)$|\.tmp-/.test(f))).toEqual([])
    expect(manifest.summary).toMatchObject({records: 4, skipped: 33})
  })

  it.each([
    [101, '16-bit PNG with alpha, polygon partly outside, absurd bbox and area', '<box><grid_0_0><grid_15_15></box>'],
    [201, '1×1 image', null],
    [301, '10000 px wide image', null],
    [926, 'bbox of zero width on the image: a line, kept', '<box><grid_2_3><grid_2_13></box>'],
  ])('annotation %i (%s) gives a record with a measured IoU (box rule: zero points is a valid answer)', (annId, _, box) => {
    const record = records.find((r) => r.ann_id === annId)!
    expect(record.decode).toBe('box')
    expect(record.iou).toBeGreaterThan(0)
    if (box) expect(record.box).toBe(box)
  })

  it.each([
    [401, /truncated\.jpg, image 4: cannot decode image \(VipsJpeg: premature end of JPEG image\)/],
    [
      501,
      /skips\.json, image 5, field "file_name": file_name escapes the image root: expected a path inside --images, got \.\.\/\.\.\/etc\/passwd/,
    ],
    [601, /image 6, field "file_name": file_name escapes the image root: .*got \/etc\/passwd/],
    [701, /not-an-image\.jpg, image 7: cannot decode image/],
    [801, /missing\.png, image 8: image file not found/],
    [1001, /images\/images, image 10: image path is not a file/],
    [901, /^segmentation: polygon part 0 has 2 points, at least 3 needed$/],
    [902, /^segmentation: polygon part 0 has an odd number of coordinates \(5\)$/],
    [903, /^segmentation: polygon part 0 coordinate 2 is not a finite number: null$/],
    [904, /^segmentation: polygon part 0 coordinate 2 is not a finite number: "NaN"$/],
    [905, /^segmentation: polygon part 0 coordinate 2 is out of range: 10000000$/],
    [906, /^segmentation: polygon part 0 coordinate 3 is not a finite number: Infinity$/],
    [907, /^segmentation: polygon part 0 is too long to rasterise: its edges span 72000000 pixels, at most 2000000$/],
    [908, /^zero-area mask$/],
    [909, /^segmentation: RLE counts sum to 162, expected h·w = 480·640 = 307200$/],
    [910, /^segmentation: RLE count 1 must be a non-negative integer, got -100$/],
    [911, /^segmentation: RLE size \[48, 64\] disagrees with image size \[480, 640\] \(h, w\)$/],
    [912, /^segmentation: compressed RLE has invalid char "#" at 0/],
    [913, /^missing segmentation$/],
    [914, /^segmentation: expected polygons or an RLE object, got 42$/],
    [915, /^image_id is not an integer: got "9"$/],
    [916, /^category_id is not an integer: got undefined$/],
    [917, /^bbox is not \[x, y, w, h\]: got "0,0,5,5"$/],
    [918, /^area is not a number: got "big"$/],
    [919, /^iscrowd is not 0 or 1: got 2$/],
    [920, /^duplicate annotation id 920$/],
    [921, /^unknown image_id 12345$/],
    [922, /^unknown category_id 999$/],
    [923, /^segmentation: polygon part 0 has an odd number of coordinates \(1\)$/],
    [924, /^bbox has a negative width or height: got \[100,100,-50,-50\]$/],
    [925, /^bbox lies outside the 640×480 image: got \[700,10,20,20\]$/],
    [927, /^segmentation: polygon part 0 coordinate 2 is not a finite number: "162\.47"$/],
  ])('annotation %i is skipped: %s', (annId, reason) => {
    expect(manifest.skips.filter((s) => s.ann_id === annId).map((s) => s.reason)).toContainEqual(expect.stringMatching(reason))
  })

  it('offsets skips the same bad boxes, so no inverted or clamped box reaches its targets', () => {
    const offsetsOut = path.join(mkdtempSync(path.join(tmpdir(), 'getok-hostile-offsets-')), 'out')
    const r = getok(['offsets', '-a', `${HOSTILE}/skips.json`, ...IMAGES, '-o', offsetsOut, '--grid', '16'])
    expect(r.code).toBe(0)
    const skips: {ann_id: number; reason: string}[] = JSON.parse(readFileSync(path.join(offsetsOut, 'manifest.json'), 'utf8')).skips
    expect(skips.filter((s) => s.ann_id === 924 || s.ann_id === 925).map((s) => s.reason)).toEqual([
      'bbox has a negative width or height: got [100,100,-50,-50]',
      'bbox lies outside the 640×480 image: got [700,10,20,20]',
    ])
  })

  it('fails on the first of them with --strict, before writing anything', () => {
    const strictOut = path.join(mkdtempSync(path.join(tmpdir(), 'getok-hostile-strict-')), 'out')
    const r = getok(['curate', '-a', `${HOSTILE}/skips.json`, ...IMAGES, '-o', strictOut, '--grid', '16', '--strict'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/skips\.json, annotation 901: segmentation: polygon part 0 has 2 points/)
    expect(existsSync(strictOut)).toBe(false)
  })
})
