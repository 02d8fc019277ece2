import {cpSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {type EvalRunInput, runEval} from '../../../src/pipeline/eval/eval-run.js'
import {SamEngine} from '../../../src/sam/engine.js'
import {defaultModelFiles} from '../../../src/sam/model-files.js'
import {writeLatin1} from '../../helpers/latin1.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// Every text file eval reads is UTF-8 or the run stops before SAM loads, naming the file and the line;
// Node's decoding would have scored "caf\ufffd". SAM is the real one, loaded only if a run gets that far.
const ANN = 'fixtures/sample/instances.json'
const IMAGES = 'fixtures/sample/images'
const CURATED = 'fixtures/curated-sample'
const SHARD = 'curate-00000-of-00001.jsonl'

const curated: {image_id: number; ann_id: number; seg: string}[] = readFileSync(path.join(CURATED, SHARD), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))

const tmp = tempDirs('getok-eval-utf8')

function input(predictions: string, out: string, extra: Partial<EvalRunInput> = {}): EvalRunInput {
  return {
    predictions,
    annotations: ANN,
    images: IMAGES,
    out,
    decode: {curated: CURATED},
    shardSize: 2,
    batch: 4,
    strict: false,
    overwrite: false,
    engine: () => SamEngine.load({threads: 1}),
    modelFiles: defaultModelFiles(),
    ...extra,
  }
}

/** Plain predictions answering the first curated records with their own targets; the second's split is "vél" (é: one Latin-1 byte). */
function predictionsText(): string {
  const rows = curated.slice(0, 3).map((r, k) => ({image_id: r.image_id, ann_id: r.ann_id, answer: r.seg, split: k === 1 ? 'vél' : 'val'}))
  return rows.map((r) => JSON.stringify(r) + '\n').join('')
}

describe('getok eval refuses text that is not UTF-8', () => {
  it('the predictions file: a Latin-1 byte in a row stops the run naming the file and line; nothing is written', async () => {
    const dir = tmp()
    const file = path.join(dir, 'predictions.jsonl')
    const message = writeLatin1(file, predictionsText())
    expect(message.source).toContain('line 2,')
    const out = path.join(dir, 'out')
    await expect(runEval(input(file, out))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it('the --reference data file of LLaMA-Factory predictions', async () => {
    const dir = tmp()
    const predictions = path.join(dir, 'generated_predictions.jsonl')
    writeFileSync(predictions, JSON.stringify({prompt: '', predict: curated[0].seg, label: curated[0].seg}) + '\n')
    const reference = path.join(dir, 'llamafactory-val.jsonl')
    const record = {
      conversations: [
        {from: 'human', value: '<image>Please segment the café.'},
        {from: 'gpt', value: curated[0].seg},
      ],
    }
    const message = writeLatin1(reference, JSON.stringify({...record, image_id: curated[0].image_id, ann_id: curated[0].ann_id}) + '\n')
    const out = path.join(dir, 'out')
    await expect(runEval(input(predictions, out, {reference, format: 'llamafactory'}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })

  it.each([
    ['a curated shard', SHARD, (t: string) => t.replace('"category":"cat"', '"category":"caté"'), 'line 2,'],
    ['the curated manifest.json', 'manifest.json', (t: string) => t.replace('"candidates": "pool"', '"candidates": "poolé"'), 'line 16,'],
  ])('%s of --curated (the decode settings and targets)', async (_, name, edit, line) => {
    const dir = tmp()
    const folder = path.join(dir, 'curated')
    cpSync(CURATED, folder, {recursive: true})
    const file = path.join(folder, name)
    const message = writeLatin1(file, edit(readFileSync(file, 'utf8')))
    expect(message.source).toContain(line)
    const predictions = path.join(dir, 'predictions.jsonl')
    writeFileSync(predictions, predictionsText().replace('vél', 'val'))
    const out = path.join(dir, 'out')
    await expect(runEval(input(predictions, out, {decode: {curated: folder}}))).rejects.toThrow(message)
    expect(existsSync(out)).toBe(false)
  })
})
