import {createHash} from 'node:crypto'
import {cpSync, existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it, vi} from 'vitest'
import Export from '../../commands/export.js'
import Offsets from '../../commands/offsets.js'
import {EXPORT_FORMATS, type ExportFormat} from '../../src/core/export/trainer-formats.js'
import type {ExportRunResult} from '../../src/pipeline/export/export-run.js'
import {tempDirs} from '../helpers/temp-dirs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIX = (rel: string) => path.join(ROOT, 'fixtures', rel)
const CURATED = FIX('curated-sample')
const OFFSETS = FIX('offsets-sample')
const REF_CURATED = FIX('curated-refcocos')
const REF_OFFSETS = FIX('offsets-refcocos')
const REFS = FIX('refexp/refs(umd).p')
const REFCOCOS = FIX('refexp/refcocos-test.jsonl')

const tempDir = tempDirs('getok-export')

/** Run a real command class in-process; its log lines are swallowed. */
async function run<T>(command: typeof Export | typeof Offsets, args: string[]): Promise<T> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    return (await command.run(args, ROOT)) as T
  } finally {
    log.mockRestore()
  }
}
const exportRun = (args: string[]) => run<ExportRunResult>(Export, args)

type AnyRecord = Record<string, any>
function readRecords(dir: string, file: string): AnyRecord[] {
  const text = readFileSync(path.join(dir, file), 'utf8')
  return file.endsWith('.json')
    ? JSON.parse(text)
    : text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
}
const textsOf = (r: AnyRecord): string[] => (r.messages ?? r.conversations).map((t: AnyRecord) => t.content ?? t.value)
const imagesOf = (r: AnyRecord): string[] => r.images ?? [r.image]
const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))

describe.each(EXPORT_FORMATS)('getok export --format %s on real curated COCO records', (format: ExportFormat) => {
  const out = tempDir(format)
  let result: ExportRunResult
  let records: AnyRecord[]

  beforeAll(async () => {
    result = await exportRun([
      '--curated',
      REF_CURATED,
      '--offsets',
      REF_OFFSETS,
      '--expressions',
      REFCOCOS,
      '--format',
      format,
      '-o',
      out,
      '--image-root',
      '/data/coco/val2017',
    ])
    records = result.files.flatMap((f) => readRecords(out, f.file))
  })

  it('writes the data files, the vocabulary and the manifest', () => {
    const expected = ['manifest.json', 'vocab.txt', ...result.files.map((f) => f.file)]
    if (format === 'llamafactory') expected.push('dataset_info.json', 'vocab.yaml')
    expect(readdirSync(out).sort()).toEqual(expected.sort())
    expect(result.files.map((f) => f.file)).toEqual([format === 'llava' ? 'llava-test.json' : `${format}-test.jsonl`])
  })

  it('uses only tokens of the exported vocabulary', () => {
    const vocab = new Set(readFileSync(path.join(out, 'vocab.txt'), 'utf8').split(/\s+/).filter(Boolean))
    expect(vocab.size).toBe(16 * 16 + 10)
    const used = records.flatMap(textsOf).flatMap((t) => t.match(/<(?:grid|OFF|DELETE)[^<>]*>/g) ?? [])
    expect(used.length).toBeGreaterThan(50)
    expect(used.filter((t) => !vocab.has(t))).toEqual([])
  })

  it('has one <image> tag and one image path, under --image-root, per record', () => {
    for (const r of records) {
      expect(
        textsOf(r)
          .join('')
          .match(/<image>/g)?.length,
      ).toBe(1)
      expect(imagesOf(r)).toHaveLength(1)
      expect(imagesOf(r)[0]).toMatch(/^\/data\/coco\/val2017\/000000(460347|252219)\.jpg$/)
    }
  })

  it('counts records per task and split in the manifest, matching the files', () => {
    const m = manifestOf(out)
    expect(m.command).toBe('export')
    expect(m.summary.counts).toEqual({seg: {test: 2}, box: {test: 2}, point: {test: 2}, refine: {test: 2}, multi: {test: 2}})
    expect(m.summary.records).toBe(records.length)
    for (const s of m.shards) {
      const bytes = readFileSync(path.join(out, s.file))
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.sha256)
      expect(readRecords(out, s.file).length).toBe(s.records)
    }
  })

  it('joins the real RefCOCOS expressions by annotation id and counts those not curated', () => {
    const e = manifestOf(out).summary.expressions
    expect(e).toMatchObject({source: 'jsonl', total: 8, matched: 2, not_curated: 6, image_mismatch: 0})
    const prompts = records.map((r) => textsOf(r)[0])
    expect(prompts.filter((p) => p.includes('the person walking not beneath an umbrella')).length).toBe(4)
    expect(prompts.filter((p) => p.includes('the white car not positioned behind a bus')).length).toBe(4)
  })

  it('writes refinement in two turns for ms-swift (first answer out of the loss), one turn elsewhere', () => {
    const refine = records.filter((r) => textsOf(r).some((t) => t.startsWith('<offset>')))
    expect(refine.length).toBe(2)
    for (const r of refine) {
      expect(textsOf(r).length).toBe(format === 'swift' ? 4 : 2)
      if (format === 'swift') expect(r.messages[1].loss).toBe(false)
    }
    expect(manifestOf(out).config.refine_form).toBe(format === 'swift' ? 'two-turn' : 'one-turn')
  })
})

describe('getok export on the sample photos without expressions', () => {
  const out = tempDir('category')
  let result: ExportRunResult
  beforeAll(async () => {
    result = await exportRun(['--curated', CURATED, '--offsets', OFFSETS, '--format', 'llamafactory', '-o', out, '--tags'])
  })

  it('falls back to category names, says so, and skips the ambiguous couches', () => {
    const s = result.summary
    expect(s.expressions.source).toBe('category')
    expect(s.expressions.note).toMatch(/never given an invented expression/)
    expect(
      manifestOf(out)
        .skips.filter((k: AnyRecord) => /ambiguous category/.test(k.reason))
        .map((k: AnyRecord) => k.ann_id)
        .sort(),
    ).toEqual([1604105, 97882])
    const prompts = readRecords(out, 'llamafactory-train.jsonl').map((r) => textsOf(r)[0])
    expect(prompts).toContain('<image>Please segment all the couches.')
    expect(prompts.some((p) => /the couch\b/.test(p))).toBe(false)
  })

  it('writes the LLaMA-Factory vocabulary YAML with the tags, and dataset_info.json', () => {
    expect(result.summary.vocabulary).toEqual({file: 'vocab.txt', count: 274, tags: true, grid: 16, token_style: 'plain'})
    const yaml = readFileSync(path.join(out, 'vocab.yaml'), 'utf8')
    expect(yaml.split('\n').filter((l) => l.startsWith('"')).length).toBe(274)
    expect(JSON.parse(readFileSync(path.join(out, 'dataset_info.json'), 'utf8'))).toEqual({
      getok_train: {file_name: 'llamafactory-train.jsonl', formatting: 'sharegpt', columns: {messages: 'conversations', images: 'images'}},
    })
  })

  it('reads the real refs pickle and counts its 28 expressions as not curated here (other images)', async () => {
    const out2 = tempDir('refs')
    const r = await exportRun(['--curated', CURATED, '--refs', REFS, '--format', 'swift', '-o', out2, '--tasks', 'seg,multi'])
    expect(r.summary.expressions).toMatchObject({source: 'refs', total: 28, matched: 0, not_curated: 28, objects_without_expression: 12})
    expect(r.summary.counts).toEqual({seg: {}, multi: {train: 1}})
  })

  it('replaces an earlier export in the same folder, leaving no stale file', async () => {
    await exportRun(['--curated', CURATED, '--format', 'swift', '-o', out, '--tasks', 'box'])
    expect(readdirSync(out).sort()).toEqual(['manifest.json', 'swift-train.jsonl', 'vocab.txt'])
  })
})

describe('getok export refuses bad input with a clear message', () => {
  const out = () => path.join(tempDir('bad'), 'out')

  it('an unknown format', async () => {
    await expect(exportRun(['--curated', CURATED, '--format', 'alpaca', '-o', out()])).rejects.toThrow(
      /^--format: bad value: expected one of swift, llamafactory, llava, qwen, got "alpaca"$/,
    )
  })

  it('a refs file that does not parse', async () => {
    await expect(exportRun(['--curated', CURATED, '--refs', REFCOCOS, '--format', 'swift', '-o', out()])).rejects.toThrow(
      /refcocos-test\.jsonl: refs file does not parse: pickle byte 0/,
    )
  })

  it('a folder without manifest.json', async () => {
    await expect(exportRun(['--curated', FIX('sample'), '--format', 'swift', '-o', out()])).rejects.toThrow(
      /fixtures\/sample: no manifest\.json: not a finished getok curate output folder/,
    )
  })

  it('an offsets folder as --curated', async () => {
    await expect(exportRun(['--curated', OFFSETS, '--format', 'swift', '-o', out()])).rejects.toThrow(
      /field "command": not the output of getok curate: expected "curate", got "offsets"/,
    )
  })

  it('a curated folder of another grid size than --offsets', async () => {
    const off32 = path.join(tempDir('n32'), 'off')
    await run(Offsets, ['-a', FIX('sample/instances.json'), '-o', off32, '--grid', '32'])
    await expect(exportRun(['--curated', CURATED, '--offsets', off32, '--format', 'swift', '-o', out()])).rejects.toThrow(
      /field "config.grid": curated and offsets folders were made at different grid sizes: expected 16 \(as .*curated-sample\), got 32/,
    )
  })

  it('refine without --offsets, and --out on the curated folder', async () => {
    await expect(exportRun(['--curated', CURATED, '--format', 'swift', '--tasks', 'seg,refine', '-o', out()])).rejects.toThrow(
      /task "refine" needs --offsets/,
    )
    await expect(exportRun(['--curated', CURATED, '--format', 'swift', '-o', CURATED])).rejects.toThrow(/holds another command's output/)
  })

  it('a token outside the vocabulary (a paper-spelled token in a plain folder), before anything is written', async () => {
    const dir = path.join(tempDir('mixed'), 'cur')
    cpSync(CURATED, dir, {recursive: true})
    const shard = path.join(dir, 'curate-00000-of-00001.jsonl')
    writeFileSync(shard, readFileSync(shard, 'utf8').replace('"seg":"<seg><grid_8_8></seg>"', '"seg":"<seg><grid_{8,8}></seg>"'))
    const target = out()
    await expect(exportRun(['--curated', dir, '--format', 'qwen', '-o', target])).rejects.toThrow(
      /conversation 25560_48152_c_seg: token outside the exported vocabulary: expected tokens of the 266-token vocabulary, got <grid_\{8,8\}>/,
    )
    expect(existsSync(target)).toBe(false)
  })

  it('a templates file with a mistake', async () => {
    const file = path.join(tempDir('tpl'), 'templates.json')
    writeFileSync(file, JSON.stringify({seg: 'Segment {object}.'}))
    await expect(exportRun(['--curated', CURATED, '--format', 'swift', '--templates', file, '-o', out()])).rejects.toThrow(
      /templates\.json: "seg": unknown placeholder \{object\}/,
    )
  })
})
