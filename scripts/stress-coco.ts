/**
 * Stress test for the streaming COCO reader (docs/scale.md): build an
 * instances file of at least --mb megabytes by replicating the real tiny-coco
 * annotations with new ids, then index it with readCoco in a fresh process and
 * report the time and peak RSS. The file goes to --out (default under /tmp);
 * never commit it.
 *
 *   node dist/scripts/stress-coco.js --mb 450                 build (if missing) and index
 *   node dist/scripts/stress-coco.js --mb 450 --whole         also time JSON.parse of the whole file, for comparison
 *   node dist/scripts/stress-coco.js index /tmp/file.json     index only (what the parent runs)
 *
 * Replica r gets image ids r·10⁶ + id and annotation ids r·10¹² + id (COCO crowd ids reach 9·10¹¹); file names,
 * categories and polygons stay as they are.
 */
import {spawnSync} from 'node:child_process'
import {createWriteStream, existsSync, readFileSync, statSync} from 'node:fs'
import {once} from 'node:events'
import {fileURLToPath} from 'node:url'
import {readCoco} from '../src/adapters/coco.js'

export const SOURCES = ['instances_train2017.json', 'instances_val2017.json'].map((f) => `/work/shared/data/tiny-coco/annotations/${f}`)
const IMAGE_ID_STEP = 1_000_000
const ANN_ID_STEP = 1_000_000_000_000

type Json = Record<string, unknown>

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(`--${name}`)
  return k > 0 ? process.argv[k + 1] : fallback
}

/** Write the stress file element by element (never whole in memory); returns replicas, images and annotations written. */
export async function buildStressFile(
  out: string,
  targetBytes: number,
  sources: string[],
): Promise<{replicas: number; images: number; annotations: number}> {
  const data = sources.map((f) => JSON.parse(readFileSync(f, 'utf8')) as {images: Json[]; annotations: Json[]; categories: Json[]})
  const images = data.flatMap((d) => d.images)
  const annotations = data.flatMap((d) => d.annotations)
  const annBytes = annotations.reduce((n, a) => n + JSON.stringify(a).length + 1, 0)
  const imageBytes = images.reduce((n, a) => n + JSON.stringify(a).length + 1, 0)
  const replicas = Math.ceil(targetBytes / (annBytes + imageBytes))
  const stream = createWriteStream(out)
  const write = async (text: string) => {
    if (!stream.write(text)) await once(stream, 'drain')
  }
  await write('{"info": {"description": "getok stress file: tiny-coco replicated"}, "licenses": [],\n"images": [\n')
  await writeReplicated(write, replicas, images, (im, r) => ({...im, id: r * IMAGE_ID_STEP + (im.id as number)}))
  await write('],\n"annotations": [\n')
  await writeReplicated(write, replicas, annotations, (a, r) => ({
    ...a,
    id: r * ANN_ID_STEP + (a.id as number),
    image_id: r * IMAGE_ID_STEP + (a.image_id as number),
  }))
  await write(`],\n"categories": ${JSON.stringify(data[0].categories)}}\n`)
  stream.end()
  await once(stream, 'finish')
  return {replicas, images: replicas * images.length, annotations: replicas * annotations.length}
}

async function writeReplicated(
  write: (t: string) => Promise<void>,
  replicas: number,
  items: Json[],
  renumber: (item: Json, r: number) => Json,
): Promise<void> {
  for (let r = 0; r < replicas; r++) {
    const lines = items.map((item, k) => (r === 0 && k === 0 ? '' : ',\n') + JSON.stringify(renumber(item, r)))
    await write(lines.join(''))
  }
}

/** Child process: index the file, print time and peak RSS as JSON. */
async function indexOnly(file: string): Promise<void> {
  const started = performance.now()
  const data = await readCoco(file)
  const seconds = (performance.now() - started) / 1000
  const annotations = [...data.annotationsByImage.values()].reduce((n, a) => n + a.length, 0)
  const usage = process.resourceUsage()
  console.log(
    JSON.stringify({
      images: data.images.size,
      annotations,
      orphans: data.orphans.length,
      seconds,
      peak_rss_mb: usage.maxRSS / 1024,
      heap_used_mb: process.memoryUsage().heapUsed / 2 ** 20,
    }),
  )
}

/** Child process: the old way, one string and one JSON.parse, for comparison. */
function wholeOnly(file: string): void {
  const started = performance.now()
  let outcome: string
  try {
    const root = JSON.parse(readFileSync(file, 'utf8')) as {annotations: unknown[]}
    outcome = `${root.annotations.length} annotations`
  } catch (error) {
    outcome = (error as Error).message.split('\n')[0]
  }
  console.log(JSON.stringify({outcome, seconds: (performance.now() - started) / 1000, peak_rss_mb: process.resourceUsage().maxRSS / 1024}))
}

function runChild(mode: string, file: string): unknown {
  const self = fileURLToPath(import.meta.url)
  // the index runs with node's default heap limit; the whole-file parse needs a larger one
  const flags = mode === 'whole' ? ['--max-old-space-size=8192'] : []
  const r = spawnSync(process.execPath, [...flags, self, mode, file], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!)
}

async function main(): Promise<void> {
  const [mode, file] = process.argv.slice(2)
  if (mode === 'index') return indexOnly(file)
  if (mode === 'whole') return wholeOnly(file)
  const mb = Number(arg('mb', '450'))
  const out = arg('out', `/tmp/getok-stress-${mb}mb.json`)
  if (!existsSync(out) || statSync(out).size < mb * 1e6) {
    const t = performance.now()
    const built = await buildStressFile(out, mb * 1e6, SOURCES)
    console.log(
      `built ${out}: ${(statSync(out).size / 1e6).toFixed(0)} MB, ${built.replicas} replicas, ${built.images} images, ` +
        `${built.annotations} annotations in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    )
  }
  console.log('streamed index:', JSON.stringify(runChild('index', out)))
  if (process.argv.includes('--whole')) console.log('whole-file JSON.parse:', JSON.stringify(runChild('whole', out)))
}

// run as a script, not when a test imports buildStressFile
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main()
