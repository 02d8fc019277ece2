// Helpers of gpu-bench.sh, in plain Node (no build needed):
//   node gpu-report.mjs curate LABEL DEVICE WORKERS RC WALL_MS OUTDIR [REFDIR]
//     one JSON line for a `getok curate --json` run whose stdout is OUTDIR.json and stderr OUTDIR.err:
//     images, the run's own seconds, wall seconds (node start and model loading included), records,
//     mean IoU and, against REFDIR, how many records kept their points and the worst IoU difference
//   node gpu-report.mjs report RESULTS.jsonl HEADER.txt [BATCHING.md]
//     the markdown report from those lines, on stdout
import {existsSync, readdirSync, readFileSync} from 'node:fs'

const [, , what, ...args] = process.argv

function records(dir) {
  if (!existsSync(dir)) return new Map()
  const files = readdirSync(dir, {recursive: true}).filter((f) => String(f).endsWith('.jsonl'))
  const rows = files.flatMap((f) => readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter(Boolean))
  return new Map(rows.map((l) => JSON.parse(l)).map((r) => [`${r.image_id}/${r.ann_id}`, r]))
}

function compare(dir, ref) {
  const [a, b] = [records(dir), records(ref)]
  let same = 0
  let worst = 0
  let missing = 0
  for (const [k, r] of b) {
    const s = a.get(k)
    if (!s) {
      missing++
      continue
    }
    same += JSON.stringify(r.points) === JSON.stringify(s.points)
    worst = Math.max(worst, Math.abs(r.iou - s.iou))
  }
  return {reference: ref, records: b.size, missing, samePoints: same, worstIoUDiff: +worst.toFixed(6)}
}

function curate([label, device, workers, rc, wallMs, dir, ref]) {
  const row = {kind: 'curate', label, device, workers: Number(workers), rc: Number(rc), wallS: Number(wallMs) / 1000}
  let out
  try {
    out = JSON.parse(readFileSync(`${dir}.json`, 'utf8'))
  } catch {
    const err = existsSync(`${dir}.err`) ? readFileSync(`${dir}.err`, 'utf8') : ''
    const tail = (readFileSync(`${dir}.json`, 'utf8') + err).trim().split('\n').slice(-3).join(' | ')
    return {...row, error: tail.slice(0, 400) || `exit ${rc}, no output`}
  }
  if (out.error) return {...row, error: String(out.error.message ?? JSON.stringify(out.error)).slice(0, 400)}
  const s = out.summary ?? {}
  return {
    ...row,
    images: out.images,
    seconds: out.seconds,
    records: s.records,
    meanIoU: s.mean_iou,
    ...(ref ? {compare: compare(dir, ref)} : {}),
  }
}

const fmt = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–')

function report([results, header, batching]) {
  const rows = readFileSync(results, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  const out = [readFileSync(header, 'utf8').trim(), '']
  out.push('## getok curate end to end', '')
  out.push(
    '| run | device | workers | images | run s | images/s (run) | wall s | images/s (wall) | records | mean IoU | same points as reference |',
  )
  out.push('|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of rows.filter((r) => r.kind === 'curate')) {
    if (r.error) {
      out.push(`| ${r.label} | ${r.device} | ${r.workers} | failed: ${r.error.replaceAll('|', '/')} | | | | | | | |`)
      continue
    }
    const c = r.compare
      ? `${r.compare.samePoints}/${r.compare.records} (worst IoU Δ ${r.compare.worstIoUDiff}) vs ${r.compare.reference.split('/').pop()}`
      : 'reference'
    out.push(
      `| ${r.label} | ${r.device} | ${r.workers} | ${r.images} | ${fmt(r.seconds, 1)} | ${fmt(r.images / r.seconds)} | ${fmt(r.wallS, 1)} | ` +
        `${fmt(r.images / r.wallS)} | ${r.records} | ${fmt(r.meanIoU, 4)} | ${c} |`,
    )
  }
  // step 6: N one-thread workers against one process on all cores (issue #23's 16-core target)
  const cpu = rows.filter((r) => r.kind === 'curate' && !r.error && /^curate, CPU, \d+ workers$/.test(r.label))
  const one = cpu.find((r) => r.workers === 1)
  if (one && cpu.length > 1) {
    out.push('', `CPU workers against one process on all cores (${fmt(one.images / one.wallS)} images/s by wall time):`, '')
    for (const r of cpu.filter((r) => r !== one))
      out.push(
        `- ${r.workers} workers: ${fmt(r.images / r.wallS / (one.images / one.wallS))}× by wall time, ${fmt(r.images / r.seconds / (one.images / one.seconds))}× by run time`,
      )
  }
  const clicks = rows.find((r) => r.kind === 'rewrite' && r.clicks)?.clicks ?? 256
  out.push('', `## CPU decoder rewrites on the device (scripts/device/gpu-check.mjs, ${clicks} grid clicks, one photo)`, '')
  out.push(
    '| graph | device | load ms | encoder (+ image side) ms | decoder ms a prompt, batch 1 | batch 16 |',
    '|---|---|---|---|---|---|',
  )
  for (const r of rows.filter((r) => r.kind === 'rewrite')) {
    if (r.error) out.push(`| ${r.graph} | ${r.device} | failed: ${r.error.replaceAll('|', '/')} | | | |`)
    else
      out.push(
        `| ${r.graph} | ${r.device} | ${r.loadMs} | ${r.encoderMs.join(', ')} | ${r.decoderMsPerPrompt[1]} | ${r.decoderMsPerPrompt[16]} |`,
      )
  }
  for (const r of rows.filter((r) => r.kind === 'rewrite-compare')) {
    out.push(
      '',
      `Rewritten against plain on ${r.device}, ${r.prompts} prompts × 4 masks: mask IoU at logit > 0 median ${r.maskIoU.median},`,
    )
    out.push(
      `1st percentile ${r.maskIoU.p01}, worst ${r.maskIoU.min}; worst logit difference ${r.worstLogitDiff}, worst predicted-IoU difference ${r.worstScoreDiff}.`,
    )
  }
  if (batching && existsSync(batching))
    out.push('', '## Prompts batched across images (scripts/bench-batching.ts)', '', readFileSync(batching, 'utf8').trim())
  const notes = rows.filter((r) => r.kind === 'note')
  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n.text}`))
  return out.join('\n') + '\n'
}

if (what === 'curate') console.log(JSON.stringify(curate(args)))
else if (what === 'report') process.stdout.write(report(args))
else {
  console.error('gpu-report.mjs: curate … or report …')
  process.exit(2)
}
