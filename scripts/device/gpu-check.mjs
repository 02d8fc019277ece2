// The CPU decoder rewrites on a device: the same 256 grid clicks on one image through the plain
// all-masks graph and through the rewritten one (fused LayerNorms, factored attention, sub-pixel
// upscaling, image side once per image), both on DEVICE. Prints one JSON line per graph (load,
// encoder and image-side ms, decoder ms a prompt at batch 1 and 16) and one comparing them (masks
// at logit > 0, IoU per mask token; worst logit difference; predicted IoU difference). CLICKS (default
// 256) takes fewer clicks, for a try on a slow CPU.
//   node gpu-check.mjs IMAGE DEVICE
import {SamEngine} from '../dist/src/sam/engine.js'
import {loadImage, resizeForSam} from '../dist/src/adapters/images.js'
import {median} from '../dist/src/core/stats.js'

const [, , imageFile, device = 'webgpu'] = process.argv
const img = await loadImage(imageFile)
const {rgb, frame} = await resizeForSam(img)
const side = 16
const clicks = Math.min(side * side, Number(process.env.CLICKS ?? side * side))
const points = Array.from({length: clicks}, (_, k) => [
  (((k % side) + 0.5) * img.width) / side,
  ((Math.floor(k / side) + 0.5) * img.height) / side,
])
const masks = {}
for (const rewrite of [false, true]) {
  const graph = rewrite ? 'rewritten' : 'plain'
  const t0 = performance.now()
  let engine
  try {
    engine = await SamEngine.load({device, rewriteDecoder: rewrite})
  } catch (e) {
    console.log(JSON.stringify({kind: 'rewrite', device, graph, error: String(e.message ?? e).split('\n')[0]}))
    continue
  }
  const loadMs = performance.now() - t0
  const enc = []
  let emb
  for (let r = 0; r < 3; r++) {
    const s = performance.now()
    emb = await engine.encode(rgb, frame) // the image side runs here too, when the graph is split
    enc.push(performance.now() - s)
  }
  const dec = {}
  for (const b of [1, 16]) {
    const n = b === 1 ? Math.min(32, clicks) : clicks
    const times = []
    for (let r = 0; r < 3; r++) {
      const s = performance.now()
      const out = await engine.decodePoints(emb, points.slice(0, n), b)
      times.push((performance.now() - s) / n)
      if (b === 16 && r === 0) masks[graph] = out.map((m) => ({logits: m.logits.slice(), scores: m.scores.slice()}))
    }
    dec[b] = +median(times.slice(1)).toFixed(3)
  }
  const encoderMs = enc.map((x) => Math.round(x))
  console.log(JSON.stringify({kind: 'rewrite', device, graph, clicks, loadMs: Math.round(loadMs), encoderMs, decoderMsPerPrompt: dec}))
  await engine.release()
}
if (masks.plain && masks.rewritten) {
  const ious = []
  let logitDiff = 0
  let scoreDiff = 0
  masks.plain.forEach((p, k) => {
    const q = masks.rewritten[k]
    for (let t = 0; t < 4; t++) {
      let inter = 0
      let union = 0
      for (let i = t * 65536; i < (t + 1) * 65536; i++) {
        const a = p.logits[i] > 0
        const b = q.logits[i] > 0
        inter += a && b
        union += a || b
        logitDiff = Math.max(logitDiff, Math.abs(p.logits[i] - q.logits[i]))
      }
      ious.push(union ? inter / union : 1)
      scoreDiff = Math.max(scoreDiff, Math.abs(p.scores[t] - q.scores[t]))
    }
  })
  ious.sort((a, b) => a - b)
  const maskIoU = {min: ious[0], p01: ious[Math.floor(ious.length * 0.01)], median: ious[ious.length >> 1]}
  console.log(
    JSON.stringify({
      kind: 'rewrite-compare',
      device,
      prompts: masks.plain.length,
      maskIoU,
      worstLogitDiff: logitDiff,
      worstScoreDiff: scoreDiff,
    }),
  )
}
