/**
 * `getok serve`'s memory for one request of GRPO-like samples that carry their ground truth: peak RSS and
 * wall time of the server while it answers one POST /score of --samples samples, every --group of them
 * with the same `gt` (one prompt's rollouts), --answers distinct answers among them.
 *
 *   node dist/scripts/bench-serve-gt.js [--samples 4096] [--group 4096] [--answers 8] [--batch 16] [--threads T]
 *
 * The server is `node bin/run.js serve` on the fixture model and fixtures/sample (the tv of image 25560, a
 * 640x480 polygon), in a process of its own so its RSS is the server's alone. A request of the first slice
 * warms it up (the image encoded, onnxruntime's memory grown to a decoder run of --answers prompts: about
 * 500 MiB at 8, once); then the peak RSS is reset (/proc/PID/clear_refs) and read back (VmHWM) once the big
 * request is answered. --answers 0: answers without tokens, so no SAM work (the ground truth alone).
 */
import {spawn} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import * as path from 'node:path'
import {parseArgs} from 'node:util'

const {values: args} = parseArgs({
  options: {
    samples: {type: 'string', default: '4096'},
    group: {type: 'string', default: '4096'},
    answers: {type: 'string', default: '8'},
    batch: {type: 'string', default: '16'},
    threads: {type: 'string'},
  },
})

const ANN = 'fixtures/sample/instances.json'
const IMAGE = '000000025560.jpg'

function post(url: string, route: string, body?: string): Promise<{status: number; text: string}> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}
    const req = request(new URL(route, url), {method: body === undefined ? 'GET' : 'POST', headers}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8')}))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const mib = (kb: number) => Math.round(kb / 1024)
const procKb = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

/** The samples: `group` rollouts of each prompt share one gt; a prompt's gt differs from the next in its text only. */
function samples(n: number, group: number, answers: number): unknown[] {
  const tv = JSON.parse(readFileSync(ANN, 'utf8')).annotations.find((a: {id: number}) => a.id === 29572)
  const answer = (k: number) => (answers === 0 ? 'no tokens' : `<seg><grid_${4 + (k % answers)}_${k % 3}></seg>`)
  return Array.from({length: n}, (_, k) => {
    const prompt = Math.floor(k / group)
    const segmentation = tv.segmentation.map((part: number[]) => part.map((v, j) => (j === 0 ? v + prompt / 1000 : v)))
    return {image: IMAGE, gt: {segmentation, width: 640, height: 480}, answer: answer(k)}
  })
}

async function main(): Promise<void> {
  const n = Number(args.samples)
  const cli = ['serve', '-a', ANN, '-i', 'fixtures/sample/images', '--curated', 'fixtures/curated-sample', '--port', '0']
  const limits = ['--max-body-kb', '65536', '--max-samples', String(n), '--max-request-objects', String(n), '--timeout-ms', '3600000']
  const model = ['--batch', args.batch, ...(args.threads ? ['--threads', args.threads] : [])]
  const server = spawn(process.execPath, [path.resolve('bin/run.js'), ...cli, ...limits, ...model], {stdio: ['ignore', 'pipe', 'inherit']})
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      server.stdout.on('data', (c: Buffer) => {
        out += c.toString('utf8')
        const m = /listening on (http:\/\/\S+?),/.exec(out)
        if (m) resolve(m[1])
      })
      server.on('exit', (code) => reject(new Error(`getok serve exited (${code})`)))
    })
    while ((await post(url, '/health')).status !== 200) await new Promise((r) => setTimeout(r, 200))
    const body = samples(n, Number(args.group), Number(args.answers))
    // the request's first slice (4 · --batch samples) first: it encodes the image and grows onnxruntime's arena to a full decoder run
    const warm = await post(url, '/score', JSON.stringify(body.slice(0, 4 * Number(args.batch))))
    if (warm.status !== 200) throw new Error(`warm-up answered ${warm.status}: ${warm.text}`)
    const text = JSON.stringify(body)
    const before = procKb(server.pid!, 'VmRSS')
    writeFileSync(`/proc/${server.pid}/clear_refs`, '5') // VmHWM := VmRSS
    const t0 = performance.now()
    const answer = await post(url, '/score', text)
    const wallS = (performance.now() - t0) / 1000
    if (answer.status !== 200) throw new Error(`answered ${answer.status}: ${answer.text.slice(0, 300)}`)
    const peak = procKb(server.pid!, 'VmHWM')
    const stats = JSON.parse((await post(url, '/stats')).text)
    const work = args.answers === '0' ? 'no SAM work' : `${args.answers} distinct answers`
    const gt = stats.ground_truths ? `, ground truths built ${stats.ground_truths.built}, shared ${stats.ground_truths.shared}` : ''
    console.log(
      `${n} gt samples (${Math.ceil(n / Number(args.group))} distinct gt, ${work}, ` +
        `body ${(text.length / 1e6).toFixed(1)} MB): RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB ` +
        `(+${mib(peak - before)} MiB), wall ${wallS.toFixed(1)} s${gt}`,
    )
  } finally {
    server.kill('SIGTERM')
  }
}

await main()
