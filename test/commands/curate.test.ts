import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'

// These run the built CLI (npm test builds first), as a user would.
const BIN = path.resolve('bin/run.js')
const SAMPLE = ['-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images']
const SMALL = [...SAMPLE, '--grid', '16', '--image-ids', '443303,184321', '--shard-size', '1']

function getok(args: string[]) {
  const r = spawnSync('node', [BIN, ...args], {encoding: 'utf8'})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

function shardsOf(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  )
}

describe('getok curate (CLI)', () => {
  it('lists every flag with a sentence in --help', () => {
    const {code, stdout} = getok(['curate', '--help'])
    expect(code).toBe(0)
    for (const flag of [
      '--annotations',
      '--images',
      '--out',
      '--grid',
      '--tau',
      '--limit',
      '--image-ids',
      '--categories',
      '--include-crowd',
      '--candidates',
      '--mask-policy',
      '--device',
      '--shard-size',
      '--json',
      '--strict',
      '--overwrite',
      '--token-style',
      '--encoder',
      '--decoder',
    ]) {
      expect(stdout).toMatch(new RegExp(`${flag}[^\\n]*\\s{2,}\\S`))
    }
    expect(getok(['--help']).stdout).toMatch(/curate/)
  })

  it('survives SIGKILL mid-run: the rerun finishes with exactly the records of an uninterrupted run', async () => {
    const clean = mkdtempSync(path.join(tmpdir(), 'getok-clean-'))
    const once = getok(['curate', ...SMALL, '-o', clean, '--json'])
    expect(once.code).toBe(0)
    const summary = JSON.parse(once.stdout)
    expect(summary.summary.records).toBeGreaterThan(0)
    expect(summary.resumed).toBe(0)

    const killed = mkdtempSync(path.join(tmpdir(), 'getok-killed-'))
    const child = spawn('node', [BIN, 'curate', ...SMALL, '-o', killed, '--json'], {stdio: 'ignore'})
    // kill once the first image is journalled, while the second is being worked on
    const journal = path.join(killed, 'curate-00000-of-00002.stats.json')
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (existsSync(journal)) {
          clearInterval(timer)
          child.kill('SIGKILL')
          resolve()
        }
      }, 20)
    })
    await new Promise((r) => child.on('exit', r))
    expect(existsSync(path.join(killed, 'manifest.json'))).toBe(false)
    const resumed = getok(['curate', ...SMALL, '-o', killed, '--json'])
    expect(resumed.code).toBe(0)
    expect(shardsOf(killed)).toEqual(shardsOf(clean))
    expect(JSON.parse(resumed.stdout).summary).toEqual(summary.summary)
    // the image journalled before the kill is counted as resumed, not redone
    expect(JSON.parse(resumed.stdout).resumed).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(resumed.stdout).encoderCalls).toBe(2 - JSON.parse(resumed.stdout).resumed)
    // once finished, a rerun redoes nothing and says so
    const again = getok(['curate', ...SMALL, '-o', killed])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/from 2 images \(all finished earlier: nothing redone\)/)
    expect(shardsOf(killed)).toEqual(shardsOf(clean))
  })

  it('counts bad objects and images with their reasons, and fails on them with --strict', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'getok-bad-'))
    const r = getok([
      'curate',
      '-a',
      'fixtures/bad/mixed.json',
      '-i',
      'fixtures/sample/images',
      '-o',
      out,
      '--grid',
      '16',
      '--include-crowd',
      '--json',
    ])
    expect(r.code).toBe(0)
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))
    const reasons = Object.fromEntries(manifest.skips.map((s: {ann_id: number; reason: string}) => [s.ann_id, s.reason]))
    expect(reasons[900001]).toMatch(/zero-area/)
    expect(reasons[900002]).toMatch(/polygon/)
    expect(reasons[900003]).toMatch(/counts sum to/)
    expect(reasons[900004]).toMatch(/unknown image_id 777/)
    expect(reasons[900005]).toMatch(/missing\.jpg.*image file not found/)
    expect(reasons[900006]).toMatch(/image size disagrees.*expected 600x480, got 640x480/)
    expect(manifest.summary.records).toBe(1)
    expect(manifest.summary.skipped).toBe(6)

    const strict = getok([
      'curate',
      '-a',
      'fixtures/bad/mixed.json',
      '-i',
      'fixtures/sample/images',
      '-o',
      mkdtempSync(path.join(tmpdir(), 'getok-strict-')),
      '--grid',
      '16',
      '--strict',
    ])
    expect(strict.code).not.toBe(0)
    expect(strict.stderr.replace(/\s+/g, ' ')).toMatch(/mixed\.json, annotation 900001: zero-area mask/)
  })

  it.each([
    [['-a', 'fixtures/coco/broken/invalid-json.json', '-i', 'fixtures/sample/images'], /invalid-json\.json: invalid JSON at line 3/],
    [['-a', 'fixtures/coco/broken/missing-images.json', '-i', 'fixtures/sample/images'], /missing-images\.json.*images/],
    [['-a', 'does-not-exist.json', '-i', 'fixtures/sample/images'], /does-not-exist\.json/],
    [['-a', 'fixtures/sample/instances.json', '-i', 'no-such-folder'], /no-such-folder: image folder not found/],
    [[...SAMPLE, '--image-ids', '5'], /no image with id 5/],
    [[...SAMPLE, '--categories', 'unicorn'], /unknown category "unicorn"/],
  ])('stops a bad run before writing anything: %s', (args, message) => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'getok-none-')), 'out')
    const r = getok(['curate', ...args, '-o', out])
    expect(r.code).not.toBe(0)
    expect(r.stderr.replace(/\s+/g, ' ')).toMatch(message)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
    expect(existsSync(out)).toBe(false)
  })
})
