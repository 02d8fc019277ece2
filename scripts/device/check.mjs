// Device check: the same SAM engine on cpu and on a GPU provider, same image, same prompts.
// Prints per-device timings (encoder, decoder per prompt at the batch sizes in BATCHES; THREADS
// caps onnxruntime's threads; REWRITE=1 or 0 forces the CPU decoder rewrites on or off, default:
// on for cpu only) and the GPU-vs-CPU agreement (embedding and logits relative error, mask IoU at
// logit > 0).
//   node check.mjs IMAGE cpu webgpu cuda
import {SamEngine} from '../dist/src/sam/engine.js'
import {loadImage, resizeForSam} from '../dist/src/adapters/images.js'
import {median} from '../dist/src/core/stats.js'
const [, , imageFile, ...devices] = process.argv
const {rgb, frame} = await resizeForSam(await loadImage(imageFile))
const img = await loadImage(imageFile)
const pts = Array.from({length: 256}, (_, k) => [(((k % 16) + 0.5) * img.width) / 16, ((Math.floor(k / 16) + 0.5) * img.height) / 16])
const results = {}
for (const device of devices) {
  const t0 = performance.now()
  let engine
  try {
    engine = await SamEngine.load({
      device,
      threads: process.env.THREADS ? Number(process.env.THREADS) : undefined,
      rewriteDecoder: process.env.REWRITE === undefined ? undefined : process.env.REWRITE === '1',
    })
  } catch (e) {
    console.log(JSON.stringify({device, error: String(e.message ?? e)}))
    continue
  }
  const loadMs = performance.now() - t0
  const enc = []
  let emb
  for (let r = 0; r < 4; r++) {
    const s = performance.now()
    emb = await engine.encode(rgb, frame)
    enc.push(performance.now() - s)
  }
  const dec = {}
  let masks
  for (const b of (process.env.BATCHES ?? '1 16 64 256').split(' ').map(Number)) {
    const n = b === 1 ? 32 : 256
    const times = []
    for (let r = 0; r < 3; r++) {
      const s = performance.now()
      const m = await engine.decodePoints(emb, pts.slice(0, n), b)
      times.push((performance.now() - s) / n)
      if (b === 64) masks = m
    }
    dec[b] = +median(times.slice(1)).toFixed(3)
  }
  results[device] = {emb: emb.tensor.data, masks}
  console.log(
    JSON.stringify({
      device,
      threads: process.env.THREADS ?? 'all',
      rewrite: process.env.REWRITE ?? 'default',
      loadMs: Math.round(loadMs),
      encoderMs: enc.map((x) => Math.round(x)),
      decoderMsPerPrompt: dec,
    }),
  )
  await engine.release()
}
const rel = (a, b) => {
  let num = 0,
    den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2
    den += b[i] ** 2
  }
  return Math.sqrt(num / den)
}
if (results.cpu)
  for (const device of Object.keys(results).filter((d) => d !== 'cpu')) {
    const g = results[device],
      c = results.cpu
    const embRel = rel(g.emb, c.emb)
    let logitRel = 0,
      ious = []
    for (let p = 0; p < c.masks.length; p++) {
      logitRel = Math.max(logitRel, rel(g.masks[p].logits, c.masks[p].logits))
      for (let t = 0; t < 4; t++) {
        let inter = 0,
          uni = 0
        for (let i = t * 65536; i < (t + 1) * 65536; i++) {
          const a = g.masks[p].logits[i] > 0,
            b = c.masks[p].logits[i] > 0
          inter += a && b
          uni += a || b
        }
        ious.push(uni ? inter / uni : 1)
      }
    }
    ious.sort((a, b) => a - b)
    console.log(
      JSON.stringify({
        compare: `${device} vs cpu`,
        prompts: c.masks.length,
        embeddingRelErr: embRel,
        worstLogitRelErr: logitRel,
        maskIoU: {min: ious[0], p01: ious[Math.floor(ious.length * 0.01)], median: ious[Math.floor(ious.length / 2)]},
      }),
    )
  }
