import {writeFileSync} from 'node:fs'
import * as path from 'node:path'
import {describe, expect, it} from 'vitest'
import {runExport} from '../../../src/pipeline/export/export-run.js'
import {tempDirs} from '../../helpers/temp-dirs.js'

// export on the committed curate fixture (no SAM): its progress on a terminal.
const tmp = tempDirs('getok-export-progress')

describe('getok export: progress', () => {
  it('shows progress: shards read, then conversations built and checked, then records written, with the file they go to', async () => {
    // before: silent however many records (a full COCO export runs for minutes)
    const dir = tmp()
    const expressions = path.join(dir, 'expressions.jsonl')
    const line = (annId: number, expression: string, split: string) => JSON.stringify({ann_id: annId, expression, split}) + '\n'
    writeFileSync(
      expressions,
      line(29572, 'the television', 'val') + line(48152, 'the cat on the left', 'train') + line(6910, 'the dog', 'val'),
    )
    const seen: unknown[] = []
    const progress = {
      start: (total: number, done: number) => seen.push(['start', total, done]),
      tick: (done: number, note?: string) => seen.push([done, note]),
      end: () => seen.push('end'),
    }
    const result = await runExport({
      curated: 'fixtures/curated-sample',
      format: 'swift',
      out: path.join(dir, 'out'),
      expressions: {file: expressions, source: 'jsonl'},
      tasks: ['seg', 'box'],
      refineForm: 'auto',
      minIou: 0.5,
      defaultSplit: 'train',
      tags: false,
      progress,
    })
    expect(result.files.map((f) => [f.file, f.records])).toEqual([
      ['swift-train.jsonl', 2],
      ['swift-val.jsonl', 4],
    ])
    // 3 expressions × 2 tasks, none skipped: 6 conversations to build, 6 records
    const n = 6
    expect(result.summary.records).toBe(n)
    const range = (k: number) => Array.from({length: k}, (_, i) => i + 1)
    expect(seen).toEqual([
      ['start', 1, 0],
      [1, 'shards read (12 curate records)'],
      'end',
      ['start', n, 0],
      ...range(n).map((k) => [k, `conversations built (${k} records checked)`]),
      'end',
      ['start', n, 0],
      ...range(2).map((k) => [k, 'records written (swift-train.jsonl)']),
      ...range(4).map((k) => [2 + k, 'records written (swift-val.jsonl)']),
      'end',
    ])
  })
})
