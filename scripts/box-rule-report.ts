/**
 * Tables for scripts/box-rule.ts from its rows: the rules by COCO size class, the box rule's
 * candidate orders, seconds per image, and what the rule does to an answer's length.
 */
import {mean} from '../src/core/stats.js'
import type {ImageRow, ObjectRow, Outcome} from './box-rule.js'

const SIZES = ['all', 'small', 'medium', 'large'] as const
const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '–')
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–')
const pct = (v: number) => `${(100 * v).toFixed(1)}%`
const bySize = (rows: ObjectRow[], size: (typeof SIZES)[number]) => (size === 'all' ? rows : rows.filter((r) => r.size === size))
const table = (head: string[], body: string[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')

export function report(all: (ObjectRow | ImageRow)[]): void {
  const objects = all.filter((r): r is ObjectRow => r.kind === 'object')
  const images = all.filter((r): r is ImageRow => r.kind === 'image')
  const timed = images[0]?.timed
  if (!timed) throw new Error('no image rows')
  const box = (r: ObjectRow) => r.orders[timed]
  console.log(`${images.length} images, ${objects.length} objects; the box rule's order: ${timed}\n`)
  console.log(rulesTable(objects, box))
  console.log('\n' + passTable(objects, box))
  console.log('\n' + ordersTable(objects, images))
  console.log('\n' + timingTable(images, objects, box))
  console.log('\n' + lengthTable(objects, box))
}

function rulesTable(objects: ObjectRow[], box: (r: ObjectRow) => Outcome): string {
  const rows = SIZES.map((size) => {
    const rs = bySize(objects, size)
    return [
      `${size} (${rs.length})`,
      f4(mean(rs.map((r) => r.union.iou))),
      f4(mean(rs.map((r) => r.box_alone.single))),
      f4(mean(rs.map((r) => r.box_alone.best))),
      f4(mean(rs.map((r) => r.box_union_points))),
      f4(mean(rs.map((r) => box(r).iou))),
      f4(mean(rs.map((r) => Math.max(r.union.iou, box(r).iou)))),
      `${pct(mean(rs.map((r) => +r.union.reached)))} / ${pct(mean(rs.map((r) => +box(r).reached)))}`,
      `${f2(mean(rs.map((r) => r.union.tokens)))} / ${f2(mean(rs.map((r) => box(r).tokens)))}`,
    ]
  })
  return table(
    [
      'objects',
      'union (fast)',
      'box alone, single',
      'box alone, best',
      'box + union points',
      'box rule (greedy)',
      'best of union and box rule',
      'reached τ: union / box',
      'grid tokens: union / box',
    ],
    rows,
  )
}

function passTable(objects: ObjectRow[], box: (r: ObjectRow) => Outcome): string {
  const rows = SIZES.map((size) => {
    const rs = bySize(objects, size)
    const pass = (f: (r: ObjectRow) => number) => rs.filter((r) => f(r) >= 0.5).length
    const [u, b, e] = [pass((r) => r.union.iou), pass((r) => box(r).iou), pass((r) => Math.max(r.union.iou, box(r).iou))]
    return [`${size} (${rs.length})`, `${u} (${pct(u / rs.length)})`, `${b} (${pct(b / rs.length)})`, `+${b - u}`, `${e}`]
  })
  return table(['objects', 'union ≥ 0.5', 'box rule ≥ 0.5', 'more with box', 'best of both ≥ 0.5'], rows)
}

/** Every order on the objects where it ran, against the first order that ran on all of them. */
function ordersTable(objects: ObjectRow[], images: ImageRow[]): string {
  const names = [...new Set(objects.flatMap((r) => Object.keys(r.orders)))]
  const out: string[] = []
  // the orders that ran on every image, then per heavy subset, each against `all` where it ran
  const everywhere = names.filter((n) => objects.every((r) => n in r.orders))
  const heavy = names.filter((n) => !everywhere.includes(n))
  const groups: [string, ObjectRow[], string[]][] = [['all images', objects, everywhere]]
  if (heavy.length > 0) {
    const sub = objects.filter((r) => heavy.every((n) => n in r.orders))
    groups.push([`the ${new Set(sub.map((r) => r.image_id)).size} images with the heavy orders`, sub, names])
  }
  for (const [title, rs, ns] of groups) {
    const ref = ns.includes('all') ? 'all' : undefined
    const imgs = new Set(rs.map((r) => r.image_id))
    const body = ns.map((n) => {
      const o = rs.map((r) => r.orders[n])
      const cell = (size: (typeof SIZES)[number]) => f4(mean(bySize(rs, size).map((r) => r.orders[n].iou)))
      return [
        n,
        ...SIZES.map(cell),
        pct(mean(o.map((x) => +x.reached))),
        f2(mean(o.map((x) => x.tokens))),
        f2(mean(o.map((x) => x.calls))),
        f2(mean(o.map((x) => x.runs))),
        (o.reduce((a, x) => a + x.calls, 0) / imgs.size).toFixed(0),
        ref ? f4(mean(rs.map((r) => r.orders[n].iou - r.orders[ref].iou))) : '',
        ref ? pct(mean(rs.map((r) => +(r.orders[n].iou >= r.orders[ref].iou - 0.005)))) : '',
      ]
    })
    out.push(
      `${title} (${rs.length} objects)\n\n` +
        table(
          [
            'order',
            'mean IoU',
            'small',
            'medium',
            'large',
            'reached τ',
            'grid tokens',
            'prompts / object',
            'decoder runs / object',
            'prompts / image',
            'IoU − all',
            'within 0.005 of all',
          ],
          body,
        ),
    )
    void images
  }
  return out.join('\n\n')
}

function timingTable(images: ImageRow[], objects: ObjectRow[], box: (r: ObjectRow) => Outcome): string {
  const enc = mean(images.map((r) => r.encode_s))
  const u = mean(images.map((r) => r.encode_s + r.union_s))
  const b = mean(images.map((r) => r.encode_s + r.box_s))
  void objects
  void box
  return table(
    ['rule', 'decoder calls / image', 'decoder runs / image', 'selection s / image', 'seconds / image (encoder included)', '× union'],
    [
      ['encoder alone', '', '', '', f2(enc), ''],
      [
        'union (fast)',
        mean(images.map((r) => r.union_calls)).toFixed(1),
        mean(images.map((r) => r.union_runs)).toFixed(1),
        f2(mean(images.map((r) => r.union_s))),
        f2(u),
        '1.00',
      ],
      [
        `box (${images[0].timed})`,
        mean(images.map((r) => r.box_calls)).toFixed(1),
        mean(images.map((r) => r.box_runs)).toFixed(1),
        f2(mean(images.map((r) => r.box_s))),
        f2(b),
        f2(b / u),
      ],
    ],
  )
}

/** Tokens of a seg answer, tags counted as tokens (as where they are added as special tokens). */
function lengthTable(objects: ObjectRow[], box: (r: ObjectRow) => Outcome): string {
  const ut = mean(objects.map((r) => r.union.tokens))
  const bt = mean(objects.map((r) => box(r).tokens))
  return table(
    ['rule', 'grid tokens / mask', 'seg answer, tokens', 'refine target, tokens'],
    [
      ['paper (union, n = 32)', '8.7', '10.7 (<seg> + 8.7 + </seg>)', '12.7'],
      ['union', f2(ut), f2(ut + 2), f2(ut + 4)],
      // <box> 2 </box> <seg> k </seg>; refined: <offset><box> 2 </box></offset> and <offset><seg> k </seg></offset>
      ['box', f2(bt), f2(bt + 2 + 4), f2(bt + 2 + 8)],
    ],
  )
}
