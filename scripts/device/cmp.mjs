// Compare two `getok curate` output folders record by record: same grid points, IoU difference.
import {readdirSync, readFileSync} from 'node:fs'
const load = (dir) =>
  new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter(Boolean))
      .map((l) => JSON.parse(l))
      .map((r) => [`${r.image_id}/${r.ann_id}`, r]),
  )
const [a, b] = process.argv.slice(2).map(load)
let same = 0,
  n = 0,
  worst = 0,
  missing = 0
for (const [k, r] of a) {
  const s = b.get(k)
  if (!s) {
    missing++
    continue
  }
  n++
  same += JSON.stringify(r.points) === JSON.stringify(s.points)
  worst = Math.max(worst, Math.abs(r.iou - s.iou))
}
console.log(JSON.stringify({compare: process.argv.slice(2), records: n, missing, samePoints: same, worstIoUDiff: worst}))
