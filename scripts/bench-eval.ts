/**
 * `getok eval` speed on real data: tiny-coco val2017 with real referring expressions.
 *
 *   node dist/scripts/bench-eval.js [--annotations A --images DIR] [--expressions refcocos-test.jsonl]
 *                                   [--categories] [--grid 32] [--device cpu] [--threads T] [--batches 1,16]
 *                                   [--work DIR] [--write docs/benchmarks.md]
 *
 * Makes the data as a user would, with the built CLI: curate the images the expressions fall on,
 * offsets for them, then the two predict runs of docs/eval.md: `export --predict` (conversations end
 * at the model's first answer) and `export --followup` (those answers as context, the refinement
 * turn to predict). With --categories, every image with objects and category expressions instead
 * ("the cat" where unambiguous), many more samples. The predictions are the exported targets, written
 * as `swift infer` writes its result file, so the figures are the decoding's ceiling. Eval runs
 * in-process on the first run once per --batches value, then once on the follow-up, with the model
 * loaded once: samples/s, seconds per image, encoder and decoder calls. --work keeps the made data.
 */
import {execFileSync} from 'node:child_process'
import {appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import * as path from 'node:path'
import {parseArgs} from 'node:util'
import {type Device, defaultBatch} from '../src/sam/devices.js'
import {SamEngine} from '../src/sam/engine.js'
import {defaultModelFiles} from '../src/sam/model-files.js'
import {runEval} from '../src/pipeline/eval/eval-run.js'

const SHARED = '../shared/data/tiny-coco'
const {values: args} = parseArgs({
  options: {
    annotations: {type: 'string', default: `${SHARED}/annotations/instances_val2017.json`},
    images: {type: 'string', default: `${SHARED}/val2017`},
    expressions: {type: 'string', default: 'fixtures/refexp/refcocos-test.jsonl'},
    categories: {type: 'boolean', default: false},
    grid: {type: 'string', default: '32'},
    device: {type: 'string', default: 'cpu'},
    threads: {type: 'string'},
    batches: {type: 'string'},
    work: {type: 'string'},
    write: {type: 'string'},
  },
})
if (!existsSync(args.annotations) || !existsSync(args.images)) {
  console.error(`bench-eval: ${args.annotations} or ${args.images} not found; pass --annotations and --images`)
  process.exit(2)
}
const device = args.device as Device
const batches = (args.batches ?? [...new Set([1, defaultBatch(device), 16])].join(',')).split(',').map(Number)
const work = args.work ?? mkdtempSync(path.join(tmpdir(), 'getok-bench-eval-'))
// made data is kept only where --work names its folder
if (!args.work) process.on('exit', () => rmSync(work, {recursive: true, force: true}))
const BIN = path.resolve('bin/run.js')
const getok = (cli: string[]) => execFileSync('node', [BIN, ...cli, '--json'], {encoding: 'utf8', maxBuffer: 1 << 28})

/** Curate and offsets with the CLI (skipped where --work already holds them); the export flags for them. */
function makeData(): string[] {
  const input = ['-a', args.annotations, '-i', args.images, '--grid', args.grid, ...(args.threads ? ['--threads', args.threads] : [])]
  const expressions = args.categories
    ? []
    : readFileSync(args.expressions, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
  const pick = args.categories ? [] : ['--image-ids', expressions.map((e: {image_id: number}) => e.image_id).join(',')]
  const [cur, off] = ['curated', 'offsets'].map((d) => path.join(work, d))
  if (!existsSync(path.join(cur, 'manifest.json'))) getok(['curate', ...input, ...pick, '-o', cur, '--device', device])
  if (!existsSync(path.join(off, 'manifest.json')))
    getok(['offsets', '-a', args.annotations, '--grid', args.grid, ...pick, '-o', off, '--curated', cur])
  const source = args.categories ? ['--split', 'val'] : ['--expressions', args.expressions]
  return ['--curated', cur, '--offsets', off, ...source, '--format', 'swift']
}

/** One export (skipped when --work holds it); its data file. */
function exportData(flags: string[], dir: string): string {
  const out = path.join(work, dir)
  if (!existsSync(path.join(out, 'manifest.json'))) getok(['export', ...flags, '-o', out])
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'))
  return path.join(out, path.basename(manifest.shards[0].file))
}

/** The exported targets as swift infer's result file (ms-swift ≥ 3: "labels", the response appended). */
function perfectPredictions(reference: string, name: string): string {
  const rows = readFileSync(reference, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  const file = path.join(work, name)
  const out = rows.map((r) => {
    const label = r.messages.at(-1).content
    return JSON.stringify({
      response: label,
      labels: label,
      ...r,
      messages: [...r.messages.slice(0, -1), {role: 'assistant', content: label}],
    })
  })
  writeFileSync(file, out.join('\n') + '\n')
  return file
}

const t0 = performance.now()
const flags = makeData()
const first = exportData([...flags, '--predict'], 'predict')
const firstResults = perfectPredictions(first, 'swift-result-1.jsonl')
const followUp = exportData([...flags, '--followup', firstResults, '--reference', first], 'followup')
const prepS = (performance.now() - t0) / 1000
const engine = await SamEngine.load({device, threads: args.threads ? Number(args.threads) : undefined})
const rows: string[] = []

/** One eval run with the loaded model; its table, and a row of timings. */
async function timedEval(run: string, predictions: string, reference: string, batch: number): Promise<string> {
  const [enc0, calls0, runs0] = [engine.encoderCalls, engine.decoderCalls, engine.decoderRuns]
  const started = performance.now()
  const r = await runEval({
    predictions,
    reference,
    annotations: args.annotations,
    images: args.images,
    out: path.join(work, `eval-${run}-b${batch}`),
    decode: {},
    shardSize: 1000,
    batch,
    strict: false,
    overwrite: true,
    engine: async () => engine,
    modelFiles: defaultModelFiles(),
  })
  const s = (performance.now() - started) / 1000
  const n = r.summary.samples
  rows.push(
    `| ${run} | ${batch} | ${n} | ${r.images} | ${s.toFixed(1)} | ${(n / s).toFixed(2)} | ${(s / r.images).toFixed(2)} | ` +
      `${engine.encoderCalls - enc0} | ${engine.decoderCalls - calls0} | ${engine.decoderRuns - runs0} | ${r.summary.unresolved.count} |`,
  )
  return r.table
}

let firstTable = ''
for (const batch of batches) firstTable = await timedEval('1 predict', firstResults, first, batch)
const secondTable = await timedEval('2 follow-up', perfectPredictions(followUp, 'swift-result-2.jsonl'), followUp, batches.at(-1)!)
await engine.release()

const machine = `${cpus().length}× ${cpus()[0]?.model.trim() ?? 'cpu'}, device ${device}`
const set = args.categories ? 'every tiny-coco val image (category expressions)' : 'the RefCOCOS expressions on tiny-coco val'
const report = [
  `### getok eval on ${set}`,
  '',
  `${machine}; n = ${args.grid}; data made in ${prepS.toFixed(0)} s ` +
    `(curate, offsets, both exports${args.work ? ', reused where present' : ''}); ` +
    'predictions = the exported targets (the decoding ceiling). Eval time without the model load.',
  '',
  '| run | batch | samples | images | seconds | samples/s | s/image | encoder calls | decoder calls | decoder runs | not placed |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  "Run 1, `export --predict` (the model's first answers):",
  '',
  '```',
  firstTable,
  '```',
  '',
  "Run 2, `export --followup` (the refinements of run 1's answers):",
  '',
  '```',
  secondTable,
  '```',
  '',
].join('\n')
console.log(report)
if (args.write) appendFileSync(args.write, `\n${report}`)
