import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

// getok inspect --eval with the built CLI and real SAM: curate the sample photos, answer each object
// with its curated tokens, except every third line (an empty answer, or a cell outside the grid),
// score with getok eval, then draw eval's samples. The pictures must score as eval scored them.
const BIN = path.resolve('bin/run.js')
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const tmp = mkdtempSync(path.join(tmpdir(), 'getok-inspect-eval-'))

function getok(args: string[]) {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\s+/g, ' ')}
}

interface EvalLine {
  iou: number
  reason?: string
}
let evalLines: EvalLine[]
/** line k (1-based) → the failure its answer was made to have */
const broken = new Map<number, string>()

beforeAll(() => {
  const curated = path.join(tmp, 'curated')
  expect(getok(['curate', '-a', ANN, '-i', IMAGES, '-o', curated, '--grid', '16', '--decode', 'union']).code).toBe(0)
  const records = readdirSync(curated)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(path.join(curated, f), 'utf8').trim().split('\n'))
    .map((l) => JSON.parse(l))
  const lines = records.map((r, k) => {
    let answer = r.seg
    if (k % 3 === 0) {
      answer = k % 2 === 0 ? '' : '<seg><grid_99_99></seg>'
      broken.set(k + 1, k % 2 === 0 ? 'empty' : 'out_of_grid')
    }
    return JSON.stringify({image_id: r.image_id, ann_id: r.ann_id, answer})
  })
  writeFileSync(path.join(tmp, 'pred.jsonl'), lines.join('\n') + '\n')
  const ev = getok(['eval', path.join(tmp, 'pred.jsonl'), '-a', ANN, '-i', IMAGES, '-o', path.join(tmp, 'eval'), '--curated', curated])
  expect(ev.code).toBe(0)
  evalLines = readFileSync(path.join(tmp, 'eval', 'eval.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
}, 240_000)

function inspect(extra: string[]) {
  const out = path.join(tmp, `png-${extra.join('')}`)
  const r = getok(['inspect', '--eval', path.join(tmp, 'eval'), '-i', IMAGES, '-o', out, '--json', ...extra])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as {files: string[]; pictures: {file: string; line: number; iou: number; failure?: string}[]}
}

describe('getok inspect --eval (real SAM)', () => {
  it('draws every sample with the IoU eval gave it, and the failed ones with their reason', () => {
    expect(evalLines.length).toBeGreaterThan(8)
    const result = inspect([])
    expect(result.pictures.map((p) => p.line)).toEqual(evalLines.map((_, k) => k + 1))
    for (const p of result.pictures) {
      expect(p.iou).toBeCloseTo(evalLines[p.line - 1].iou, 6)
      expect(p.failure).toBe(broken.get(p.line))
    }
    // a healthy answer redrawn is its curated object, so not 0
    expect(result.pictures.filter((p) => !broken.has(p.line)).every((p) => p.iou > 0.3)).toBe(true)
    expect(new Set(result.files).size).toBe(evalLines.length)
  })

  it('--worst N: the failed samples first, in line order, then the lowest IoU', () => {
    const n = broken.size + 2
    const result = inspect(['--worst', String(n)])
    const healthy = evalLines
      .map((l, k) => ({line: k + 1, iou: l.iou}))
      .filter((l) => !broken.has(l.line))
      .sort((a, b) => a.iou - b.iou || a.line - b.line)
    expect(result.pictures.map((p) => p.line)).toEqual([...broken.keys(), healthy[0].line, healthy[1].line])
  })

  it('--sheet: one contact sheet of the chosen samples', () => {
    const result = inspect(['--worst', '4', '--sheet'])
    expect(result.files).toHaveLength(1)
    expect(path.basename(result.files[0])).toBe('sheet.png')
    expect(result.pictures).toHaveLength(4)
  })

  it('without --images, or with no eval run there, stops with exit 2 and says which', () => {
    const noImages = getok(['inspect', '--eval', path.join(tmp, 'eval'), '-o', path.join(tmp, 'x')])
    expect(noImages.code).toBe(2)
    expect(noImages.stderr).toMatch(/eval\.jsonl: eval lines name their images relative to an image root: give --images/)
    const none = getok(['inspect', '--eval', path.join(tmp, 'nope'), '-i', IMAGES, '-o', path.join(tmp, 'y')])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/--eval, .*nope: no such eval\.jsonl or eval folder/)
  })
})
