import {type ChildProcessWithoutNullStreams, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {boxXywhIou} from '../../src/core/masks/box.js'
import {score, send} from '../server/client.js'

const BIN = path.resolve('bin/run.js')
const ARGS = ['serve', '-a', 'fixtures/sample/instances.json', '-i', 'fixtures/sample/images', '--curated', 'fixtures/curated-sample']
const CLIENT = 'clients/getok_reward.py'

interface Running {
  child: ChildProcessWithoutNullStreams
  url: string
  out: () => string
  exit: Promise<number | null>
}

/** `getok serve` in its own process (on a free port: --port 0, unless given), once it says where it listens. */
async function serve(extra: string[] = []): Promise<Running> {
  const port = extra.includes('--port') ? [] : ['--port', '0']
  const child = spawn(process.execPath, [BIN, ...ARGS, ...port, '--threads', '1', ...extra])
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m) resolve(m[1])
      if (m || child.exitCode !== null) clearInterval(poll)
      if (child.exitCode !== null) reject(new Error(`getok serve exited: ${out}`))
    }, 20)
  })
  return {child, url, out: () => out, exit}
}

async function untilHealthy(url: string): Promise<void> {
  for (let k = 0; k < 600; k++) {
    if ((await send(url, {path: '/health'})).status === 200) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('never healthy')
}

const curated = readFileSync('fixtures/curated-sample/curate-00000-of-00001.jsonl', 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))
const record = (annId: number) => curated.find((r: {ann_id: number}) => r.ann_id === annId)
const coco = JSON.parse(readFileSync('fixtures/sample/instances.json', 'utf8'))
const cocoBox = (annId: number) => coco.annotations.find((a: {id: number}) => a.id === annId).bbox

let server: Running
beforeAll(async () => {
  server = await serve()
  await untilHealthy(server.url)
})
afterAll(() => {
  if (server.child.exitCode === null) server.child.kill('SIGKILL')
})

describe('getok serve (the CLI)', () => {
  it('docs/rl.md holds the Python client verbatim', () => {
    const doc = readFileSync('docs/rl.md', 'utf8')
    const block = /<!-- clients\/getok_reward\.py[^>]*-->\n```python\n([\s\S]*?)```/.exec(doc)
    expect(block).not.toBeNull()
    expect(block![1]).toBe(readFileSync(CLIENT, 'utf8'))
  })

  it("the Python client's rewards, through EasyR1's and verl's entry points, against the real server", () => {
    // a previous answer and its §5 refinement: the tv's first four pairs from getok offsets
    const pairs = JSON.parse(readFileSync('fixtures/offsets-sample/offsets-00000-of-00001.jsonl', 'utf8').split('\n')[0]).pairs.slice(0, 4)
    const prev = `<seg>${pairs.map((p: {point: number[]}) => `<grid_${p.point[0]}_${p.point[1]}>`).join('')}</seg>`
    const off = (o: number[] | 'delete') => (o === 'delete' ? '<DELETE>' : `<OFF_${o[0]}_${o[1]}>`)
    const target = `<offset><seg>${pairs.map((p: {offset: number[] | 'delete'}) => off(p.offset)).join('')}</seg></offset>`
    const gt = (g: object) => JSON.stringify(g)
    const inputs = [
      {response: record(29572).seg, ground_truth: gt({image_id: 25560, ann_id: 29572})},
      {response: `Here: ${record(48152).seg}`, ground_truth: gt({image_id: 25560, ann_id: 48152})},
      {response: record(29572).box, ground_truth: gt({image_id: 25560, ann_id: 29572})},
      {response: 'no idea', ground_truth: gt({image_id: 25560, ann_id: 29572})},
      {response: target, ground_truth: gt({image_id: 25560, ann_id: 29572, prev})},
      {response: target.replace(/<OFF_[-\d]+_[-\d]+>/g, '<DELETE>'), ground_truth: gt({image_id: 25560, ann_id: 29572, prev})},
      {response: '<offset><seg><DELETE></seg></offset>', ground_truth: gt({image_id: 25560, ann_id: 29572, prev})},
    ]
    const dir = mkdtempSync(path.join(tmpdir(), 'getok-rl-'))
    writeFileSync(path.join(dir, 'inputs.json'), JSON.stringify(inputs))
    const driver = `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.resolve('clients'))})
import getok_reward as g
inputs = json.load(open(${JSON.stringify(path.join(dir, 'inputs.json'))}))
out = {"easyr1": g.compute_score(inputs),
       "verl": g.compute_score_batched(["getok"] * len(inputs), [i["response"] for i in inputs], [i["ground_truth"] for i in inputs])}
try:
    g.compute_score([{"response": "x", "ground_truth": json.dumps({"image_id": 25560, "ann_id": 5})}])
except g.GetokServeError as e:
    out["bad_id"] = str(e)
try:
    g.score([{"image_id": 1, "ann_id": 1, "answer": ""}], url="http://127.0.0.1:9", retries=1)
except g.GetokServeError as e:
    out["unreachable"] = str(e)
print(json.dumps(out))
`
    const r = spawnSync('python3', ['-c', driver], {encoding: 'utf8', env: {...process.env, GETOK_URL: server.url}})
    expect(r.status, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    // grid turn: 0.9·IoU + 0.1 for a well-formed answer, IoU being the curated record's own
    const [n, w] = [16, 0.1]
    const boxTokens = record(29572)
      .box.match(/\d+_\d+/g)
      .map((t: string) => t.split('_').map(Number))
    const anchor = ([i, j]: number[]) => [((i + 0.5) * 640) / n, ((j + 0.5) * 480) / n]
    const [[x0, y0], [x1, y1]] = boxTokens.map(anchor)
    const boxIou = boxXywhIou([x0, y0, x1 - x0, y1 - y0], cocoBox(29572))
    const expected = [
      {accuracy: record(29572).iou, format: 1},
      {accuracy: record(48152).iou, format: 1},
      {accuracy: boxIou, format: 1},
      {accuracy: 0, format: 0},
      // refinement turn: 0.9·offset_acc + 0.1; §5's own offsets are all right, deleting ring and inside points half wrong
      {accuracy: 1, format: 1},
      {accuracy: 0.5, format: 1},
      {accuracy: 0, format: 0},
    ]
    expect(out.easyr1).toHaveLength(expected.length)
    expected.forEach((e, k) => {
      expect(out.easyr1[k].accuracy, `completion ${k}`).toBeCloseTo(e.accuracy, 5)
      expect(out.easyr1[k].format).toBe(e.format)
      expect(out.easyr1[k].overall).toBeCloseTo((1 - w) * (e.format ? e.accuracy : 0) + w * e.format, 5)
      expect(out.verl[k]).toBe(out.easyr1[k].overall)
    })
    expect(out.bad_id).toBe('getok serve answered 422: [0].ann_id: unknown annotation id 5')
    expect(out.unreachable).toMatch(/^getok serve not reachable at http:\/\/127\.0\.0\.1:9\/score after 2 tries/)
  })

  it('SIGTERM: the request in flight gets its answer, then the server exits 0', async () => {
    const onB = record(49797)
    const inFlight = score(server.url, {image_id: 443303, ann_id: 49797, answer: onB.seg})
    await new Promise((r) => setTimeout(r, 300)) // received; SAM is encoding the image
    server.child.kill('SIGTERM')
    const answer = await inFlight
    expect(answer.status).toBe(200)
    expect(answer.json.iou).toBeCloseTo(onB.iou, 5)
    expect(await server.exit).toBe(0)
    expect(server.out()).toMatch(/SIGTERM: no new connections; finishing 1 request in flight/)
    expect(server.out()).toMatch(/stopped after \d+ requests/)
    await expect(send(server.url, {path: '/health'})).rejects.toThrow(/ECONNREFUSED/)
  })

  it('the client retries until a server that is not up yet answers; SIGINT stops the server with exit 0', async () => {
    const free = createServer()
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
    const port = (free.address() as {port: number}).port
    await new Promise((resolve) => free.close(resolve))
    const driver = `
import json, sys, time
sys.path.insert(0, ${JSON.stringify(path.resolve('clients'))})
import getok_reward as g
t0 = time.time()
replies = g.score([{"image_id": 25560, "ann_id": 29572, "answer": ""}], url=sys.argv[1], retries=8)
print(json.dumps({"replies": replies, "waited_s": time.time() - t0}))
`
    const python = spawn('python3', ['-c', driver, `http://127.0.0.1:${port}`])
    let stdout = ''
    python.stdout.on('data', (d) => (stdout += d))
    const pythonExit = new Promise<number | null>((resolve) => python.on('exit', resolve))
    await new Promise((r) => setTimeout(r, 700)) // its first tries are refused
    const s = await serve(['--port', String(port)])
    expect(await pythonExit).toBe(0)
    const out = JSON.parse(stdout)
    expect(out.replies).toEqual([{task: 'seg', iou: 0, box_iou: null, format_ok: false, failure: 'empty'}])
    expect(out.waited_s).toBeGreaterThan(0.5)
    s.child.kill('SIGINT')
    expect(await s.exit).toBe(0)
    expect(s.out()).toMatch(/SIGINT: no new connections/)
  })

  it('a port in use, a bad port, an address that is none: exit 2 with a one-line error naming the flag', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as {port: number}).port
    const r = spawnSync(process.execPath, [BIN, ...ARGS, '--port', String(port)], {encoding: 'utf8'})
    blocker.close()
    expect(r.status).toBe(2)
    expect(r.stderr.replace(/\s*\n\s*/g, ' ')).toMatch(`--port: cannot listen on 127.0.0.1:${port}: address in use`)
    const bad = spawnSync(process.execPath, [BIN, ...ARGS, '--port', '70000'], {encoding: 'utf8'})
    expect(bad.status).toBe(2)
    expect(bad.stderr.replace(/\s*\n\s*/g, ' ')).toMatch('--port: bad value: expected an integer less than or equal to 65535, got 70000')
    const host = spawnSync(process.execPath, [BIN, ...ARGS, '--host', '999.1.1.1'], {encoding: 'utf8'})
    expect(host.status).toBe(2)
    expect(host.stderr.replace(/\s*\n\s*/g, ' ')).toMatch('--host: cannot listen on 999.1.1.1:8420: no such address or host name')
  })

  it('a --timeout-ms past what Node can time is refused (it would fire at once)', () => {
    for (const flag of ['--timeout-ms', '--body-timeout-ms']) {
      // accepted, the server would start and never exit: killed after a minute, the test fails instead of hanging
      const long = spawnSync(process.execPath, [BIN, ...ARGS, flag, '3000000000'], {encoding: 'utf8', timeout: 60_000})
      expect(long.status).toBe(2)
      expect(long.stderr.replace(/\s*\n\s*/g, ' ')).toMatch(
        `${flag}: bad value: expected an integer less than or equal to 2147483647, got 3000000000`,
      )
    }
  })
})
