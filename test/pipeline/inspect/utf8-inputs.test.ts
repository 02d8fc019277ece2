import {cpSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {type InspectInput, runInspect} from '../../../src/pipeline/inspect/inspect-run.js'
import {SamEngine} from '../../../src/sam/engine.js'
import {writeLatin1} from '../../helpers/latin1.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// Every text file inspect reads is UTF-8 or it stops before SAM loads and before a picture is written,
// naming the file and the line. SAM is the real one, loaded only if a run gets that far.
const CURATED = 'fixtures/curated-sample'
const SHARD = 'curate-00000-of-00001.jsonl'
const IMAGES = 'fixtures/sample/images'

const tmp = tempDirs('getok-inspect-utf8')

function input(out: string, extra: Partial<InspectInput>): InspectInput {
  return {
    images: IMAGES,
    annotations: 'fixtures/sample/instances.json',
    out,
    filter: {},
    size: 256,
    engine: () => SamEngine.load({threads: 1}),
    ...extra,
  }
}

/** eval.jsonl lines of the curated records' own answers, as getok eval writes them (the fields inspect reads). */
function evalLines(): string[] {
  return readFileSync(path.join(CURATED, SHARD), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 3)
    .map((l, k) => {
      const r = JSON.parse(l)
      const line = {line: k + 1, image: r.image, grid: r.grid, image_id: r.image_id, ann_ids: [r.ann_id], split: 'val', task: 'seg'}
      return JSON.stringify({...line, answer: r.seg, iou: r.iou, box_iou: null, point_hit: null, format_ok: true})
    })
}

describe('getok inspect refuses text that is not UTF-8', () => {
  it.each([
    ['a shard of the records', SHARD, (t: string) => t.replace('"category":"cat"', '"category":"caté"'), 'line 2,'],
    [
      'the manifest.json naming the shards',
      'manifest.json',
      (t: string) => t.replace('"candidates": "pool"', '"candidates": "poolé"'),
      'line 16,',
    ],
  ])('%s: stops naming the file and line; no picture is written', async (_, name, edit, line) => {
    const folder = path.join(tmp(), 'curated')
    cpSync(CURATED, folder, {recursive: true})
    const file = path.join(folder, name)
    const message = writeLatin1(file, edit(readFileSync(file, 'utf8')))
    expect(message.source).toContain(line)
    const out = path.join(tmp(), 'pictures')
    await expect(runInspect(input(out, {source: folder}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it('--eval: a Latin-1 byte in a model answer of eval.jsonl', async () => {
    const file = path.join(tmp(), 'eval.jsonl')
    const lines = evalLines()
    lines[1] = lines[1].replace('"answer":"', '"answer":"é')
    const message = writeLatin1(file, lines.map((l) => l + '\n').join(''))
    expect(message.source).toContain('line 2,')
    const out = path.join(tmp(), 'pictures')
    await expect(runInspect(input(out, {eval: file, rule: 'union'}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it.each([
    ['manifest.json', '{\n  "command": "eval",\n  "config": {"annotations": "fixtures/sample/instancés.json"}\n}\n'],
    ['summary.json', '{\n  "decode": {"rule": "union", "policy": "singlé"}\n}\n'],
  ])('--eval: the %s beside eval.jsonl', async (name, text) => {
    const dir = path.join(tmp(), 'eval')
    mkdirSync(dir)
    writeFileSync(path.join(dir, 'eval.jsonl'), evalLines().join('\n') + '\n')
    const message = writeLatin1(path.join(dir, name), text)
    const out = path.join(tmp(), 'pictures')
    await expect(runInspect(input(out, {eval: dir, rule: 'union'}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })
})
