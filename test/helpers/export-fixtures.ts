import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {type BuildOptions, type CuratedObject, type RefinementObject, TASKS} from '../../src/core/export/conversations.js'
import {DEFAULT_TEMPLATES} from '../../src/core/export/templates.js'

/** The JSON lines of a fixture file (`rel` under fixtures/). */
export function fixtureLines(rel: string): Record<string, any>[] {
  return readFileSync(fileURLToPath(new URL(`../../fixtures/${rel}`, import.meta.url)), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
}

/** Real curate records (fixtures/curated-sample: n = 16, plain) as export's core takes them; a fresh array each call. */
export const curatedSample = (): CuratedObject[] =>
  fixtureLines('curated-sample/curate-00000-of-00001.jsonl').map((r) => ({
    image: r.image,
    imageId: r.image_id,
    annId: r.ann_id,
    category: r.category,
    points: r.points,
    seg: r.seg,
    box: r.box,
    iou: r.iou,
  }))

/** Real offsets records (fixtures/offsets-sample) as export's core takes them. */
export const offsetsSample = (): RefinementObject[] =>
  fixtureLines('offsets-sample/offsets-00000-of-00001.jsonl').map((r) => ({
    imageId: r.image_id,
    annId: r.ann_id,
    prev: r.prev,
    target: r.target,
  }))

/** Export's defaults on those fixtures: every task, n = 16, the default templates, no expressions. */
export const BASE_OPTIONS: BuildOptions = {
  tasks: TASKS,
  grid: 16,
  style: 'plain',
  templates: DEFAULT_TEMPLATES,
  refineForm: 'two-turn',
  minIou: 0.5,
  defaultSplit: 'train',
  expressions: null,
  uncertainImages: new Set(),
}
