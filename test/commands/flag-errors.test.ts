import {spawnSync} from 'node:child_process'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {defaultModelFiles} from '../../src/sam/model-files.js'

const BIN = path.resolve('bin/run.js')
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8'})
const A = ['-a', 'fixtures/sample/instances.json']

describe('every flag error: one line "--flag: …", no stack, exit 2', () => {
  it.each([
    [
      ['curate', ...A, '-i', 'fixtures/sample/images', '-o', 'x', '--tau', 'abc'],
      '--tau: bad value: expected a number in (0, 1], got "abc"',
    ],
    [['curate', ...A, '-i', 'i', '-o', 'x', '--grid', '1'], '--grid: bad value: expected an integer greater than or equal to 2, got 1'],
    [['curate', ...A, '-i', 'i', '-o', 'x', '--device', 'gpu'], '--device: bad value: expected one of cpu, cuda, webgpu, got "gpu"'],
    [['curate', ...A, '-i', 'i', '-o', 'x', '--image-ids', '1,a'], '--image-ids: bad value: expected comma-separated integers, got "1,a"'],
    [['curate', '-i', 'i', '-o', 'x'], '--annotations: required'],
    // two or more missing: oclif's "The following errors occurred: Missing required flag …" lines before
    [['curate', '-i', 'i'], '--annotations, --out: required'],
    [['export', '--format', 'swift'], '--curated, --out: required'],
    [
      ['curate', ...A, '-i', 'i', '-o', 'x', '--cross-image', '--workers', '2'],
      '--cross-image: one process only: expected --workers 1 (its images share decoder runs in one process), got --workers 2',
    ],
    [['curate', ...A, '-i', 'i', '-o', 'x', '--bogus'], '--bogus: no such flag (see --help)'],
    [['offsets', ...A, '-o', 'x', '--hard-band', '-1'], '--hard-band: bad value: expected a number ≥ 0, got "-1"'],
    [['offsets', ...A, '-o', 'x', '--quota', 'ring=2,inside=x'], '--quota: quota "inside=x": expected a number ≥ 0'],
    [
      ['offsets', ...A, '-o', 'x', '--shard-index', '3', '--shard-count', '2'],
      '--shard-index: bad worker index: expected an integer from 0 to 1',
    ],
    [
      ['export', '--curated', 'c', '--format', 'swift', '-o', 'x', '--min-iou', '3'],
      '--min-iou: bad value: expected a number from 0 to 1, got "3"',
    ],
    [['export', '--curated', 'c', '--format', 'swift', '-o', 'x', '--tasks', 'seg,foo'], '--tasks: unknown task: expected some of seg'],
    [['inspect', '-o', 'x', '--ann-ids', '7,'], '--ann-ids: bad value: expected comma-separated integers, got "7,"'],
    [['vocab', '--format', 'yaml'], '--format: bad value: expected one of list, llamafactory, json, got "yaml"'],
    // --out paths that cannot be written: they gave Node's EEXIST, ENOTDIR or ENOENT … x.txt.tmp-<pid>, exit 1
    [
      ['curate', ...A, '-i', 'fixtures/sample/images', '-o', 'package.json'],
      '--out, package.json: not a folder: a file of that name exists',
    ],
    [['offsets', ...A, '-o', 'package.json/out'], `--out, package.json/out: not a folder: ${path.resolve('package.json')} is a file`],
    [['merge', 'fixtures/curated-sample', '-o', 'package.json'], '--out, package.json: not a folder: a file of that name exists'],
    [
      ['inspect', 'fixtures/curated-sample', '-i', 'fixtures/sample/images', '-o', 'package.json'],
      '--out, package.json: not a folder: a file of that name exists',
    ],
    [
      ['eval', 'fixtures/sample/instances.json', ...A, '-i', 'fixtures/sample/images', '-o', 'package.json'],
      '--out, package.json: not a folder: a file of that name exists',
    ],
    [['vocab', '-o', 'no-such-folder/x.txt'], `--out, no-such-folder/x.txt: folder ${path.resolve('no-such-folder')} does not exist`],
    // before: "folder …/package.json/x does not exist"
    [['vocab', '-o', 'package.json/x/v.txt'], `--out, package.json/x/v.txt: ${path.resolve('package.json')} is a file, not a folder`],
    [['vocab', '-o', 'fixtures'], '--out, fixtures: is a folder: expected a file name'],
    // a bad --decoder was "Error: unsupported protobuf wire type 3 at byte 0", exit 1, no file named
    [
      ['curate', ...A, '-i', 'fixtures/sample/images', '-o', 'x', '--encoder', defaultModelFiles().encoder, '--decoder', 'package.json'],
      'package.json: not an ONNX model (unsupported protobuf wire type 3 at byte 0): expected a SAM ONNX decoder (--decoder)',
    ],
  ])('%j', (args, message) => {
    const r = run(args)
    expect(r.status).toBe(2)
    // oclif wraps long lines; the text is one sentence once joined
    const text = r.stderr
      .replace(/npm warn.*\n/g, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim()
    expect(text.startsWith(`Error: ${message}`)).toBe(true)
    expect(r.stderr).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/)
  })
})

describe('an error is printed as one line, never wrapped', () => {
  it('a path longer than a terminal, on a stderr that is no terminal (a CI log, a pipe): the line as written', () => {
    const dir = path.join('/no/such', 'a-folder-name-long-enough-that-the-line-runs-past-eighty-columns'.repeat(2), 'w0')
    const r = run(['merge', dir, '--out', 'x'])
    expect(r.status).toBe(2)
    // oclif wrapped at 74 columns and broke words: the path came out in two pieces
    expect(r.stderr.replace(/npm warn.*\n/g, '')).toBe(`Error: ${dir}: input folder not found\n`)
  })
})

describe('with --json, an error is one JSON object on stdout and its line on stderr, exit 2', () => {
  it.each([
    [['curate', '-i', 'i', '--json'], '--annotations, --out: required'],
    [['offsets', ...A, '-o', 'package.json', '--json'], '--out, package.json: not a folder: a file of that name exists'],
    // oclif's own " ›   Error: command bogus not found", and nothing on stdout
    [['bogus', '--json'], 'bogus: no such command (see getok --help)'],
  ])('%j', (args, message) => {
    // as a user runs it: vitest's NODE_ENV=test makes oclif warn that a command whose flags failed did not parse them
    const {NODE_ENV: _, ...env} = process.env
    const r = spawnSync(process.execPath, [BIN, ...args], {encoding: 'utf8', env})
    expect(r.status).toBe(2)
    expect(JSON.parse(r.stdout)).toMatchObject({error: {message, exitCode: 2}})
    // it went to stdout only: a person watching a script saw nothing
    expect(r.stderr.replace(/npm warn.*\n/g, '')).toBe(`Error: ${message}\n`)
  })
})

describe('help that says what a flag does', () => {
  it('offsets --workers: no SAM session (offsets runs none), one process by default', () => {
    const help = run(['offsets', '--help']).stdout.replace(/\s+/g, ' ')
    expect(help).toMatch(/--workers=<value> Worker processes on this machine, each building the offsets of its share of the images/)
    expect(help).not.toMatch(/SAM session/)
    expect(run(['curate', '--help']).stdout.replace(/\s+/g, ' ')).toMatch(/--workers=<value> .*its own SAM session/)
  })
})

describe('commands that need no SAM load no native runtime', () => {
  const traced = (args: string[]) =>
    spawnSync(process.execPath, ['--import', path.resolve('test/helpers/trace-native.mjs'), BIN, ...args], {encoding: 'utf8'})

  it('the tracer sees curate load onnxruntime-node and sharp (so its silence below means something)', () => {
    const r = traced(['curate', ...A, '-i', 'nowhere', '-o', 'x'])
    expect(r.stderr).toMatch(/getok-trace: loaded onnxruntime-node/)
    expect(r.stderr).toMatch(/getok-trace: loaded sharp/)
  })

  it.each([
    [['vocab', '-n', '16']],
    [['offsets', ...A, '-i', 'fixtures/sample/images', '-o', path.join('out', 'trace-offsets'), '--limit', '1', '--overwrite']],
    [['export', '--curated', 'fixtures/curated-sample', '--format', 'swift', '-o', path.join('out', 'trace-export')]],
    [['merge', 'fixtures/curated-sample', '-o', path.join('out', 'trace-merge'), '--overwrite']],
  ])('%j', (args) => {
    const r = traced(args)
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/getok-trace/)
  })
})
