/**
 * The README's pictures, made by the tool itself from the bundled sample
 * (fixtures/sample: four COCO val2017 photos and their annotations):
 *
 *   docs/img/inspect-curate.png    a curated object: its grid tokens and the mask they decode to
 *   docs/img/inspect-offsets.png   an offsets record: sampled points, their offsets and deletions
 *   docs/img/inspect-sheet.png     a contact sheet of the lowest-IoU curated objects
 *
 *   npm run build && node dist/scripts/readme-pictures.js [--out docs/img]
 *
 * Runs `getok curate`, `getok offsets` and `getok inspect` as a user would
 * (about a minute on two cores), writing 640-px palette PNGs.
 */
import {copyFile, mkdir, mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import Curate from '../commands/curate.js'
import Inspect from '../commands/inspect.js'
import Offsets from '../commands/offsets.js'
import type {InspectResult} from '../src/pipeline/inspect/inspect-run.js'

const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url))
const ANN = path.join(ROOT, 'fixtures/sample/instances.json')
const IMAGES = path.join(ROOT, 'fixtures/sample/images')
/** the dog on the sofa: the box and three grid tokens (box rule) */
const CURATE_ANN = 6910
/** the cat on the TV stand: inside, ring and far points */
const OFFSETS_IMAGE = 25560
const OFFSETS_ANN = 48152

const {values: args} = parseArgs({options: {out: {type: 'string', default: path.join(ROOT, 'docs/img')}}})

async function inspect(argv: string[]): Promise<string> {
  const result = (await Inspect.run([...argv, '--palette'], ROOT)) as InspectResult
  return result.files[0]
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'getok-readme-'))
  const out = args.out!
  await mkdir(out, {recursive: true})
  try {
    const curated = path.join(work, 'curate')
    const offsets = path.join(work, 'offsets')
    await Curate.run(['-a', ANN, '-i', IMAGES, '-o', curated], ROOT)
    await Offsets.run(['-a', ANN, '-i', IMAGES, '-o', offsets, '--image-ids', String(OFFSETS_IMAGE)], ROOT)
    const pics = path.join(work, 'pics')
    const common = ['-a', ANN, '-i', IMAGES, '--size', '640']
    const made: [string, string][] = [
      [await inspect([curated, ...common, '-o', path.join(pics, 'c'), '--ann-ids', String(CURATE_ANN)]), 'inspect-curate.png'],
      [await inspect([offsets, ...common, '-o', path.join(pics, 'o'), '--ann-ids', String(OFFSETS_ANN)]), 'inspect-offsets.png'],
      [
        await inspect([curated, ...common, '-o', path.join(pics, 's'), '--worst', '6', '--sheet', '--columns', '3', '--thumb', '204']),
        'inspect-sheet.png',
      ],
    ]
    for (const [from, name] of made) {
      await copyFile(from, path.join(out, name))
      console.log(path.join(out, name))
    }
  } finally {
    await rm(work, {recursive: true, force: true})
  }
}

await main()
