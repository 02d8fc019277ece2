/**
 * The greedy rule of greedy.ts, asking SAM only for the masks it needs.
 *
 * The pool is the object's candidate cells (see candidates.ts). Instead of
 * decoding all of it, the selector probes a coarse sub-lattice of the pool
 * (every `stride`-th cell in each direction; the whole pool when it is small),
 * picks the best known candidate by the same IoU value, then climbs: it decodes
 * the undecoded pool neighbours of the current best and moves while one is
 * better. With stride 2 every pool cell is next to a probed one. The step is then
 * accepted or refused exactly as in the exhaustive rule; a step that finds no
 * gain first decodes the rest of the pool, so the selector never stops for lack
 * of looking. Savings come from objects that reach τ before that.
 *
 * `fetch` returns masks for raster indices; callers cache them per image, so a
 * point decoded for one object is free for the next.
 */
import {
  type Candidate,
  type Counts,
  type GreedyOptions,
  type GreedyResult,
  addToUnion,
  boxUnion,
  boxesMeet,
  countAgainst,
  maskBox,
} from './greedy.js'
import {cellNeighbours} from '../grid/grid.js'
import {type Mask, maskArea} from '../masks/mask.js'

export interface LazyOptions extends GreedyOptions {
  /** probe every stride-th cell of the pool in each direction */
  stride: number
  /** pools up to this many cells are probed whole */
  smallPool: number
}

type Fetch = (indices: number[]) => Promise<Candidate[]>

interface Known {
  cand: Candidate
  counts: Counts
  used: boolean
}

export async function lazyGreedySelect(
  gt: Mask,
  n: number,
  pool: readonly number[],
  fetch: Fetch,
  options: LazyOptions,
): Promise<GreedyResult> {
  const inPool = new Set(pool)
  const known = new Map<number, Known>()
  const union = new Uint8Array(gt.data.length)
  // the box of U ∪ G, where counting happens
  let reach = maskBox(gt)
  const gtArea = maskArea(gt)
  let inter = 0
  let unionWithG = gtArea
  let iou = 0
  const chosen: number[] = []
  const trace: number[] = []

  const learn = async (indices: number[]) => {
    const fresh = indices.filter((k) => !known.has(k))
    if (fresh.length === 0) return
    for (const cand of await fetch(fresh)) {
      known.set(cand.index, {cand, counts: countAgainst(cand.mask, gt.data, union, gt.width, reach), used: false})
    }
  }
  const value = (k: Known) => (inter + k.counts.gain) / (unionWithG + k.counts.cost)
  const bestKnown = (): Known | undefined => {
    let best: Known | undefined
    for (const k of known.values()) {
      if (k.used || k.counts.gain === 0 || k.cand.mask.area === 0) continue
      if (!best || value(k) > value(best) || (value(k) === value(best) && k.cand.index < best.cand.index)) best = k
    }
    return best
  }
  const neighbours = (index: number): number[] => cellNeighbours(index, n).filter((k) => inPool.has(k))

  await learn(pool.length <= options.smallPool ? [...pool] : coarseLattice(pool, n, options.stride))
  let stop: GreedyResult['stop'] = 'no-gain'
  while (iou < options.tau && chosen.length < options.maxTokens) {
    let best = bestKnown()
    // climb while an undecoded neighbour is better
    while (best) {
      await learn(neighbours(best.cand.index))
      const next = bestKnown()
      if (next === best) break
      best = next
    }
    if (!best || value(best) - iou <= options.epsilon) {
      // before giving up, look at the rest of the pool: stopping is only as good as the search
      if (known.size < pool.length) {
        await learn([...pool])
        continue
      }
      stop = !best && chosen.length === 0 ? 'no-candidate' : 'no-gain'
      break
    }
    const added = addToUnion(best.cand.mask, gt.data, union, gt.width)
    reach = boxUnion(reach, best.cand.mask)
    inter += added.gain
    unionWithG += added.cost
    iou = inter / unionWithG
    best.used = true
    chosen.push(best.cand.index)
    trace.push(iou)
    for (const k of known.values()) {
      if (!k.used && boxesMeet(k.cand.mask, best.cand.mask)) k.counts = countAgainst(k.cand.mask, gt.data, union, gt.width, reach)
    }
  }
  if (iou >= options.tau) stop = 'tau'
  else if (chosen.length >= options.maxTokens) stop = 'cap'
  return {chosen, trace, iou, reached: iou >= options.tau, stop}
}

/** Pool cells on a stride-s lattice anchored at the pool's own top-left, so small pools still get probes. */
export function coarseLattice(pool: readonly number[], n: number, stride: number): number[] {
  if (stride <= 1) return [...pool]
  let i0 = n
  let j0 = n
  for (const k of pool) {
    i0 = Math.min(i0, k % n)
    j0 = Math.min(j0, Math.floor(k / n))
  }
  const probes = pool.filter((k) => ((k % n) - i0) % stride === 0 && (Math.floor(k / n) - j0) % stride === 0)
  return probes.length > 0 ? probes : [...pool]
}
