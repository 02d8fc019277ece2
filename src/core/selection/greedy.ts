/**
 * The greedy IoU-gain selector (SPEC §3). Start from an empty union U; add the
 * candidate c maximising IoU(U ∪ M_c, G); accept it only if IoU rises by more
 * than ε; stop at IoU ≥ τ, when nothing helps, or at the token cap. Ties go to
 * the lower raster index.
 *
 * For a candidate M, with U' = U ∪ G:
 *   IoU(U ∪ M, G) = (|U ∩ G| + |M ∩ G \ U|) / (|U'| + |M \ U'|)
 * so each candidate only needs two counts, over the part of its bounding box
 * inside the box of U ∪ G (its area gives the rest), and after a step only
 * candidates whose box meets the new mask's box need counting again, and of
 * those only the ones whose old counts say they could still win.
 */
import {type Box, boxUnion, boxesMeet, maskBox} from '../masks/box.js'
import type {CropMask} from '../masks/crop-mask.js'
import {type Mask, maskArea} from '../masks/mask.js'

export interface Candidate {
  /** raster index of the grid point, j·n + i */
  index: number
  mask: CropMask
}

export interface GreedyOptions {
  tau: number
  /** minimum IoU gain for a step to count */
  epsilon: number
  /** token cap */
  maxTokens: number
}

export interface GreedyResult {
  /** raster indices in the order they were chosen */
  chosen: number[]
  /** IoU after each accepted step (trace[k] after k+1 tokens) */
  trace: number[]
  iou: number
  reached: boolean
  stop: 'tau' | 'no-gain' | 'cap' | 'no-candidate'
}

export const DEFAULT_GREEDY: GreedyOptions = {tau: 0.8, epsilon: 1e-3, maxTokens: 64}

export interface Counts {
  /** |M ∩ G \ U| */
  gain: number
  /** |M \ (U ∪ G)| */
  cost: number
}

/**
 * `within` bounds U ∪ G: no pixel outside it is in either, so only the part of the crop inside it
 * is read, and the cost is the crop's area less what it shares with U ∪ G there. A candidate far
 * from the object and the chosen masks costs nothing to count. Without it the whole crop is read.
 */
export function countAgainst(m: CropMask, gt: Uint8Array, union: Uint8Array, width: number, within: Box = m): Counts {
  const xa = Math.max(m.x0, within.x0)
  const xb = Math.min(m.x0 + m.w, within.x0 + within.w)
  const ya = Math.max(m.y0, within.y0)
  const yb = Math.min(m.y0 + m.h, within.y0 + within.h)
  let gain = 0
  let shared = 0
  for (let y = ya; y < yb; y++) {
    const row = y * width
    const src = (y - m.y0) * m.w - m.x0
    for (let x = xa; x < xb; x++) {
      if (m.data[src + x]) {
        if (union[row + x]) shared++
        else if (gt[row + x]) {
          gain++
          shared++
        }
      }
    }
  }
  return {gain, cost: m.area - shared}
}

/** Mark the mask's pixels in `union`; return how many were new in G and outside G. */
export function addToUnion(m: CropMask, gt: Uint8Array, union: Uint8Array, width: number): Counts {
  const counts = countAgainst(m, gt, union, width)
  for (let y = 0; y < m.h; y++) {
    const row = (m.y0 + y) * width + m.x0
    for (let x = 0; x < m.w; x++) if (m.data[y * m.w + x]) union[row + x] = 1
  }
  return counts
}

/**
 * `firstCounts`, when given, holds each candidate's counts against the empty union (|M ∩ G| and
 * |M \ G|), by raster index, so a caller that already counted them saves the first pass.
 */
export function greedySelect(
  gt: Mask,
  candidates: readonly Candidate[],
  options: GreedyOptions = DEFAULT_GREEDY,
  firstCounts?: ReadonlyMap<number, Counts>,
): GreedyResult {
  const st = startGreedy(gt, candidates, firstCounts)
  let stop: GreedyResult['stop'] = st.pool.length === 0 ? 'no-candidate' : 'no-gain'
  while (st.iou < options.tau && st.chosen.length < options.maxTokens) {
    const [best, bestIou] = recountDoubtful(st, ...bestFresh(st))
    if (best < 0 || bestIou - st.iou <= options.epsilon) {
      stop = st.chosen.length === 0 && best < 0 ? 'no-candidate' : 'no-gain'
      break
    }
    accept(st, best)
  }
  if (st.iou >= options.tau) stop = 'tau'
  else if (st.chosen.length >= options.maxTokens) stop = 'cap'
  return {chosen: st.chosen, trace: st.trace, iou: st.iou, reached: st.iou >= options.tau, stop}
}

/**
 * The selector's state. Counts go stale when a chosen mask's box meets the candidate's; they are
 * recounted only when they could still win. A stale count bounds the true value: the gain only
 * shrinks as U grows, and the cost shrinks by at most the pixels U ∪ G gained since the count
 * (`countedAt`).
 */
interface GreedyState {
  gt: Mask
  /** candidates with a non-empty mask, in raster order: "first best wins" is the lower-index tie rule */
  pool: Candidate[]
  counts: Counts[]
  used: Uint8Array
  stale: Uint8Array
  countedAt: Float64Array
  union: Uint8Array
  /** the box of U ∪ G, where counting happens */
  reach: Box
  /** |U ∩ G| and |U ∪ G| */
  inter: number
  unionWithG: number
  iou: number
  chosen: number[]
  trace: number[]
}

function startGreedy(gt: Mask, candidates: readonly Candidate[], firstCounts?: ReadonlyMap<number, Counts>): GreedyState {
  const union = new Uint8Array(gt.data.length)
  const reach = maskBox(gt)
  const pool = [...candidates].filter((c) => c.mask.area > 0).sort((a, b) => a.index - b.index)
  const counts = pool.map((c) => firstCounts?.get(c.index) ?? countAgainst(c.mask, gt.data, union, gt.width, reach))
  const unionWithG = maskArea(gt)
  const countedAt = new Float64Array(pool.length).fill(unionWithG)
  const stale = new Uint8Array(pool.length)
  const used = new Uint8Array(pool.length)
  return {gt, pool, counts, used, stale, countedAt, union, reach, inter: 0, unionWithG, iou: 0, chosen: [], trace: []}
}

const valueOf = (st: GreedyState, c: number): number => (st.inter + st.counts[c].gain) / (st.unionWithG + st.counts[c].cost)
const boundOf = (st: GreedyState, c: number): number =>
  (st.inter + st.counts[c].gain) / (st.unionWithG + Math.max(0, st.counts[c].cost - (st.unionWithG - st.countedAt[c])))

/** The best candidate whose counts are up to date: [index into the pool or −1, its IoU]. */
function bestFresh(st: GreedyState): [number, number] {
  let best = -1
  let bestIou = -1
  for (let c = 0; c < st.pool.length; c++) {
    if (st.used[c] || st.stale[c] || st.counts[c].gain === 0) continue
    const value = valueOf(st, c)
    if (value > bestIou) {
      bestIou = value
      best = c
    }
  }
  return [best, bestIou]
}

/** Recount stale candidates, most promising first, while their bound could still beat the best. */
function recountDoubtful(st: GreedyState, best: number, bestIou: number): [number, number] {
  const doubtful: number[] = []
  for (let c = 0; c < st.pool.length; c++) if (st.stale[c] && !st.used[c] && st.counts[c].gain > 0) doubtful.push(c)
  const bound = doubtful.map((c) => boundOf(st, c))
  const order = doubtful.map((_, k) => k).sort((a, b) => bound[b] - bound[a] || doubtful[a] - doubtful[b])
  for (const k of order) {
    const c = doubtful[k]
    if (bound[k] < bestIou) break
    if (bound[k] === bestIou && c > best) continue
    st.counts[c] = countAgainst(st.pool[c].mask, st.gt.data, st.union, st.gt.width, st.reach)
    st.countedAt[c] = st.unionWithG
    st.stale[c] = 0
    if (st.counts[c].gain === 0) continue
    const value = valueOf(st, c)
    if (value > bestIou || (value === bestIou && c < best)) {
      bestIou = value
      best = c
    }
  }
  return [best, bestIou]
}

/** Add the candidate's mask to U and mark the counts its box may have changed as stale. */
function accept(st: GreedyState, best: number): void {
  const added = addToUnion(st.pool[best].mask, st.gt.data, st.union, st.gt.width)
  st.inter += added.gain
  st.unionWithG += added.cost
  st.iou = st.inter / st.unionWithG
  st.reach = boxUnion(st.reach, st.pool[best].mask)
  st.used[best] = 1
  st.chosen.push(st.pool[best].index)
  st.trace.push(st.iou)
  for (let c = 0; c < st.pool.length; c++) if (!st.used[c] && boxesMeet(st.pool[c].mask, st.pool[best].mask)) st.stale[c] = 1
}

/** The prefix of a greedy run that a lower τ would have stopped at (the run is the same up to there). */
export function truncateAtTau(result: GreedyResult, tau: number): GreedyResult {
  const k = result.trace.findIndex((v) => v >= tau)
  if (k < 0) return {...result, reached: result.iou >= tau}
  return {chosen: result.chosen.slice(0, k + 1), trace: result.trace.slice(0, k + 1), iou: result.trace[k], reached: true, stop: 'tau'}
}

/** IoU of the union of crop masks with a full-size ground truth. */
export function unionIou(gt: Mask, masks: readonly CropMask[]): number {
  const union = new Uint8Array(gt.data.length)
  let inter = 0
  let outside = 0
  for (const m of masks) {
    const c = addToUnion(m, gt.data, union, gt.width)
    inter += c.gain
    outside += c.cost
  }
  const gtArea = maskArea(gt)
  const denom = gtArea + outside
  return denom === 0 ? 0 : inter / denom
}
