import {cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {beforeAll, describe, expect, it, vi} from 'vitest'
import Offsets from '../../commands/offsets.js'
import {readCoco} from '../../src/adapters/coco.js'
import {classifyGrid} from '../../src/core/offsets/regions.js'
import {DEFAULT_K} from '../../src/core/offsets/sampling.js'
import {parseTokens} from '../../src/core/grid/tokens.js'
import {prepareObjects} from '../../src/pipeline/shared/objects.js'
import type {OffsetsRecord} from '../../src/pipeline/offsets/offsets-object.js'
import type {OffsetsRunResult} from '../../src/pipeline/offsets/offsets-run.js'
import {tempDirs} from '../helpers/temp-dirs.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ANN = path.join(ROOT, 'fixtures/sample/instances.json')
const IMAGES = path.join(ROOT, 'fixtures/sample/images')
const BROKEN = path.join(ROOT, 'fixtures/coco/broken/bad-annotations.json')
const SAMPLE = ['-a', ANN, '-i', IMAGES]

/** Run the real command class in-process; its log lines are swallowed. */
async function offsets(args: string[]): Promise<OffsetsRunResult> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    return (await Offsets.run(args, ROOT)) as OffsetsRunResult
  } finally {
    log.mockRestore()
  }
}

const tempDir = tempDirs('getok-offsets')

function shardsOf(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  )
}

function recordsOf(dir: string): OffsetsRecord[] {
  return Object.values(shardsOf(dir)).flatMap((t) =>
    t
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as OffsetsRecord),
  )
}

const manifestOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))

describe('getok offsets on the sample photos', () => {
  const out = tempDir('main')
  let result: OffsetsRunResult
  let records: OffsetsRecord[]

  beforeAll(async () => {
    result = await offsets([...SAMPLE, '-o', out, '--shard-size', '2', '--seed', '3'])
    records = recordsOf(out)
  })

  it('writes one record per object into the shards the manifest lists', () => {
    expect(Object.keys(shardsOf(out))).toEqual(['offsets-00000-of-00002.jsonl', 'offsets-00001-of-00002.jsonl'])
    const manifest = manifestOf(out)
    expect(manifest.command).toBe('offsets')
    expect(manifest.shards.map((s: {records: number}) => s.records).reduce((a: number, b: number) => a + b)).toBe(12)
    expect(records).toHaveLength(12)
    expect(result.summary.records).toBe(12)
    expect(result.summary.skipped).toBe(0)
  })

  it('counts regions and offset tokens in the manifest exactly as the records hold them', () => {
    const {summary} = manifestOf(out)
    const regions: Record<string, number> = {ring: 0, inside: 0, hard_delete: 0, far: 0}
    const tokens: Record<string, number> = {}
    for (const r of records) {
      for (const p of r.pairs) regions[p.region]++
      for (const g of parseTokens(r.target))
        for (const t of g.offsets!) {
          const key = t === 'delete' ? '<DELETE>' : `<OFF_${t[0]}_${t[1]}>`
          tokens[key] = (tokens[key] ?? 0) + 1
        }
    }
    expect(summary.regions).toEqual(regions)
    expect(Object.fromEntries(Object.entries(summary.offsets).filter(([, c]) => c))).toEqual(tokens)
    expect(summary.pairs).toBe(records.length * DEFAULT_K)
    const population = records.reduce(
      (s, r) => s + r.population.ring + r.population.inside + r.population.hard_delete + r.population.far,
      0,
    )
    expect(population).toBe(12 * 32 * 32)
  })

  it('writes prev and target as matching token strings over the sampled pairs', () => {
    for (const r of records) {
      expect(r.pairs).toHaveLength(DEFAULT_K)
      const [prev] = parseTokens(r.prev, 32)
      const [target] = parseTokens(r.target, 32)
      expect(prev.cells).toEqual(r.pairs.map((p) => p.point))
      expect(target.offsets).toEqual(r.pairs.map((p) => p.offset))
      expect(parseTokens(r.box_prev, 32)[0].kind).toBe('box')
      expect(parseTokens(r.box_target)[0].offsets).toEqual(r.box_offsets)
    }
  })

  it('labels each pair as the classifier labels that grid point of the ground truth', async () => {
    const data = await readCoco(ANN)
    for (const r of records) {
      const image = data.images.get(r.image_id)!
      const {objects} = prepareObjects(image, data.annotationsByImage.get(image.id)!, false)
      const mask = objects.find((o) => o.ann.id === r.ann_id)!.mask
      const grid = classifyGrid(mask, {n: 32, width: image.width, height: image.height}, {hardBand: 2, flipV: false, ties: 'axis-first'})
      for (const p of r.pairs) {
        expect(p.region).toBe(grid.regions[p.point[1] * 32 + p.point[0]])
        expect(p.offset).toEqual(grid.targets[p.point[1] * 32 + p.point[0]])
      }
    }
  })

  it('resumes: a rerun, and a rerun after losing a shard, give the same bytes', async () => {
    const before = shardsOf(out)
    expect(result.resumed).toBe(0)
    const rerun = await offsets([...SAMPLE, '-o', out, '--shard-size', '2', '--seed', '3'])
    expect(shardsOf(out)).toEqual(before)
    expect(rerun.resumed).toBe(rerun.images)
    rmSync(path.join(out, 'offsets-00001-of-00002.jsonl'))
    rmSync(path.join(out, 'offsets-00001-of-00002.stats.json'))
    const again = await offsets([...SAMPLE, '-o', out, '--shard-size', '2', '--seed', '3'])
    expect(shardsOf(out)).toEqual(before)
    expect(again.summary).toEqual(result.summary)
    // the first shard's images were kept, the lost shard's redone
    expect(again.resumed).toBe(2)
  })

  it('refuses another configuration in the same folder unless --overwrite', async () => {
    await expect(offsets([...SAMPLE, '-o', out, '--shard-size', '2', '--seed', '4'])).rejects.toMatchObject({
      message: expect.stringMatching(/seed: 3 → 4/),
      oclif: {exit: 2},
    })
    const other = await offsets([...SAMPLE, '-o', out, '--shard-size', '2', '--seed', '4', '--overwrite'])
    expect(other.summary.records).toBe(12)
    expect(shardsOf(out)).not.toEqual({})
  })

  // A finished shard is skipped by its file name: without the images' fingerprint in run.json, the
  // second run below kept image 184321's records, even with --overwrite.
  it('refuses a folder begun on other images (same count, same flags), and --overwrite redoes it', async () => {
    const dir = path.join(tempDir('images'), 'out')
    await offsets([...SAMPLE, '-o', dir, '--image-ids', '184321'])
    expect(new Set(recordsOf(dir).map((r) => r.image_id))).toEqual(new Set([184321]))
    await expect(offsets([...SAMPLE, '-o', dir, '--image-ids', '219578'])).rejects.toMatchObject({
      message: expect.stringMatching(
        /images: "1 image, sha256 [0-9a-f]{16}" → "1 image, sha256 [0-9a-f]{16}"\) \(the folder was begun on other images/,
      ),
      oclif: {exit: 2},
    })
    expect(new Set(recordsOf(dir).map((r) => r.image_id))).toEqual(new Set([184321]))
    const redone = await offsets([...SAMPLE, '-o', dir, '--image-ids', '219578', '--overwrite'])
    expect(redone.resumed).toBe(0)
    expect(new Set(recordsOf(dir).map((r) => r.image_id))).toEqual(new Set([219578]))
    // and the same images again resume
    expect((await offsets([...SAMPLE, '-o', dir, '--image-ids', '219578'])).resumed).toBe(1)
  })
})

describe('getok offsets options', () => {
  it('samples per object: the same seed gives the same record whatever else the run holds', async () => {
    const all = tempDir('all')
    const one = tempDir('one')
    await offsets(['-a', ANN, '-o', all, '--seed', '9'])
    await offsets(['-a', ANN, '-o', one, '--seed', '9', '--image-ids', '25560'])
    const pick = (rs: OffsetsRecord[]) => rs.filter((r) => r.image_id === 25560)
    expect(recordsOf(one)).toEqual(pick(recordsOf(all)))
  })

  it('takes --grid, --k, count quotas, --hard-band, --flip-v and --token-style', async () => {
    const out = tempDir('opts')
    const r = await offsets([
      '-a',
      ANN,
      '-o',
      out,
      '--grid',
      '16',
      '--quota',
      'ring=3,inside=2,hard=1,far=0',
      '--hard-band',
      '1',
      '--flip-v',
      '--token-style',
      'paper',
      '--limit',
      '1',
    ])
    const records = recordsOf(out)
    expect(r.images).toBe(1)
    for (const rec of records) {
      expect(rec.grid).toBe(16)
      expect(rec.pairs.length).toBe(6)
      expect(rec.pairs.filter((p) => p.region === 'far')).toEqual([])
      expect(rec.prev).toMatch(/^<seg><grid_\{\d+,\d+\}>/)
      expect(rec.flip_v).toBe(true)
      expect(rec.hard_band).toBe(1)
    }
    expect(Object.keys(r.summary.offsets)).toContain('<OFF_{0,0}>')
  })

  it('refuses bad quotas and a --k that disagrees with count quotas', async () => {
    const out = tempDir('bad')
    await expect(offsets(['-a', ANN, '-o', out, '--quota', 'ring=0.5'])).rejects.toMatchObject({oclif: {exit: 2}})
    await expect(offsets(['-a', ANN, '-o', out, '--quota', 'ring=3,inside=2', '--k', '6'])).rejects.toMatchObject({
      message: expect.stringMatching(/^--k: disagrees with the count quotas: expected 5 \(their sum\), got 6$/),
    })
    await expect(offsets(['-a', ANN, '-o', out, '--hard-band', '-1'])).rejects.toMatchObject({oclif: {exit: 2}})
  })

  it('skips and counts bad annotations, and fails on them with --strict', async () => {
    const r = await offsets(['-a', BROKEN, '-o', tempDir('broken')])
    expect(r.summary.records).toBeGreaterThan(0)
    expect(r.summary.skipped).toBeGreaterThan(0)
    expect(manifestOf(r.out).skips.length).toBe(r.summary.skipped)
    await expect(offsets(['-a', BROKEN, '-o', tempDir('strict'), '--strict'])).rejects.toMatchObject({oclif: {exit: 2}})
  })

  it('with --images, skips the objects of an image whose file is missing', async () => {
    const dir = tempDir('imgs')
    cpSync(IMAGES, dir, {recursive: true})
    rmSync(path.join(dir, '000000025560.jpg'))
    const r = await offsets(['-a', ANN, '-i', dir, '-o', tempDir('missing')])
    expect(r.summary.records).toBe(8)
    expect(Object.entries(r.summary.skip_reasons)).toEqual([[expect.stringMatching(/\.jpg: image file not found$/), 4]])
    await expect(offsets(['-a', ANN, '-i', path.join(dir, 'nope'), '-o', tempDir('x')])).rejects.toMatchObject({
      message: expect.stringMatching(/image folder not found/),
    })
  })

  it('joins curate records by annotation id with --curated', async () => {
    const curated = tempDir('curated')
    const lines = [
      {
        image_id: 25560,
        ann_id: 29572,
        grid: 32,
        points: [
          [20, 3],
          [12, 8],
        ],
        seg: '<seg><grid_20_3><grid_12_8></seg>',
      },
      {image_id: 25560, ann_id: 48152, grid: 32, points: [[1, 1]], seg: '<seg><grid_1_1></seg>'},
    ]
    writeFileSync(path.join(curated, 'curate-00000-of-00001.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''))
    const out = tempDir('joined')
    const r = await offsets(['-a', ANN, '-o', out, '--curated', curated, '--image-ids', '25560', '--token-style', 'paper'])
    expect(r.summary.curated).toEqual({joined: 2, missing: 2})
    const rec = recordsOf(out).find((x) => x.ann_id === 29572)!
    expect(rec.curated_points).toEqual([
      [20, 3],
      [12, 8],
    ])
    expect(rec.curated_seg).toBe('<seg><grid_{20,3}><grid_{12,8}></seg>')
    expect(recordsOf(out).find((x) => x.ann_id === 186081)!.curated_points).toBeNull()

    mkdirSync(path.join(curated, 'n16'))
    writeFileSync(path.join(curated, 'n16', 'curate-00000-of-00001.jsonl'), JSON.stringify({...lines[0], grid: 16}) + '\n')
    await expect(offsets(['-a', ANN, '-o', tempDir('j16'), '--curated', path.join(curated, 'n16')])).rejects.toMatchObject({
      message: expect.stringMatching(/another grid size/),
    })
  })
})

describe('getok offsets across workers', () => {
  it('splits the images over --shard-count workers, disjointly, with the same records as one run', async () => {
    const whole = tempDir('whole')
    await offsets([...SAMPLE, '-o', whole])
    const workers = [0, 1, 2].map((i) => tempDir(`w${i}`))
    for (const [i, dir] of workers.entries()) await offsets([...SAMPLE, '-o', dir, '--shard-index', String(i), '--shard-count', '3'])
    const key = (r: OffsetsRecord) => `${r.image_id}/${r.ann_id}`
    const parts = workers.map(recordsOf)
    const ids = parts.flat().map(key)
    expect(new Set(ids).size).toBe(ids.length)
    const byKey = (rs: OffsetsRecord[]) => Object.fromEntries(rs.map((r) => [key(r), r]))
    expect(byKey(parts.flat())).toEqual(byKey(recordsOf(whole)))
    expect(readdirSync(workers[1]).some((f) => /^offsets-w001-\d{5}-of-\d{5}\.jsonl$/.test(f))).toBe(true)
  })
})

describe('a resumed run checks its finished shards; --overwrite leaves nothing of an earlier run', () => {
  // Before, a finished shard was kept on the word of its .stats.json: an edited shard stayed and the
  // new manifest.json listed the sha256 of bytes it no longer had.
  it('refuses a finished shard edited since it was written, naming it; --overwrite redoes just that shard', async () => {
    const dir = path.join(tempDir('edited'), 'out')
    await offsets([...SAMPLE, '-o', dir, '--shard-size', '1'])
    const before = shardsOf(dir)
    const [first] = Object.keys(before)
    const edited = before[first].replace('"image_id":', '"note":"mine","image_id":')
    writeFileSync(path.join(dir, first), edited)
    await expect(offsets([...SAMPLE, '-o', dir, '--shard-size', '1'])).rejects.toMatchObject({
      message: expect.stringMatching(
        new RegExp(
          `^${path.join(dir, first)}: finished shard changed since it was written; delete ${first} and ` +
            `${first.replace('.jsonl', '.stats.json')} to redo it, or rerun with --overwrite: expected \\d+ records`,
        ),
      ),
      oclif: {exit: 2},
    })
    expect(readFileSync(path.join(dir, first), 'utf8')).toBe(edited)
    const redone = await offsets([...SAMPLE, '-o', dir, '--shard-size', '1', '--overwrite'])
    expect(redone.resumed).toBe(redone.images - 1) // the other shards were kept
    expect(shardsOf(dir)).toEqual(before)
    const listed = manifestOf(dir).shards.find((s: {file: string}) => s.file === first)
    const stats = JSON.parse(readFileSync(path.join(dir, first.replace('.jsonl', '.stats.json')), 'utf8'))
    expect(listed.sha256).toBe(stats.sha256)
  })

  it('offsets --overwrite into a curate folder removes the curate shards and manifest, and keeps a file of the user', async () => {
    const dir = path.join(tempDir('curate-folder'), 'out')
    cpSync(path.join(ROOT, 'fixtures/curated-sample'), dir, {recursive: true})
    writeFileSync(path.join(dir, 'curate-00000-of-00001.stats.json'), '{}\n')
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify({tool_version: '0.3.0', command: 'curate'}))
    writeFileSync(path.join(dir, 'curate-00001-of-00002.jsonl.partial'), '{"cut":')
    writeFileSync(path.join(dir, 'curate-00001-of-00002.journal'), '')
    writeFileSync(path.join(dir, 'manifest.json.tmp-123'), '{')
    writeFileSync(path.join(dir, 'notes.txt'), 'mine')
    await expect(offsets([...SAMPLE, '-o', dir])).rejects.toThrow(/holds another command's output; use another --out or --overwrite/)
    await offsets([...SAMPLE, '-o', dir, '--overwrite'])
    expect(readdirSync(dir).sort()).toEqual([
      'SOURCE.md',
      'manifest.json',
      'notes.txt',
      'offsets-00000-of-00001.jsonl',
      'offsets-00000-of-00001.stats.json',
      'run.json',
    ])
    expect(manifestOf(dir).command).toBe('offsets')
  })

  it('refuses --out naming the --curated folder, which --overwrite would empty before the join', async () => {
    const dir = path.join(tempDir('curated-out'), 'curated')
    cpSync(path.join(ROOT, 'fixtures/curated-sample'), dir, {recursive: true})
    await expect(offsets([...SAMPLE, '--curated', dir, '-o', dir, '--overwrite'])).rejects.toMatchObject({
      message: `--out, ${dir}: the same folder as --curated, whose records offsets reads; choose another --out`,
      oclif: {exit: 2},
    })
    expect(readdirSync(dir).sort()).toEqual(['SOURCE.md', 'curate-00000-of-00001.jsonl', 'manifest.json'])
  })
})
