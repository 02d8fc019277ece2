/**
 * The greedy selector under the `box` decode rule (SPEC §8). The object is one SAM prompt: the
 * object's box (corners on the half-cell lattice) plus the chosen grid points as positive clicks,
 * and its mask is that prompt's one mask. So a candidate's value is not a union count but the IoU
 * with G of a new joint prompt's mask, which SAM must compute:
 *
 *   step 0: the box alone                          → IoU₀   (zero points is a valid answer)
 *   step k: for every candidate c, box + chosen + c → IoU(c); take the best, ties to the lower
 *           raster index; accept it only if it beats the current IoU by more than ε
 *   stop:   IoU ≥ τ, no candidate gains more than ε, or the token cap
 *
 * SAM comes in as a callback that gets all of a step's point sets at once (each in raster order,
 * the order a record stores and decoding uses), so the caller can run them as one decoder batch.
 * Which points are candidates at a step is the caller's choice too (box-candidates.ts).
 */
import type {CropMask} from '../masks/crop-mask.js'
import {type Mask, maskArea} from '../masks/mask.js'
import {type GreedyOptions, type GreedyResult, countAgainst} from './greedy.js'

/** What a step knows: the points chosen so far (in the order chosen), their joint mask and its IoU. */
export interface BoxState {
  chosen: readonly number[]
  mask: CropMask
  iou: number
}

/** Raster indices to try at a step (chosen ones and duplicates are dropped by the selector). */
export type BoxCandidates = (state: BoxState) => readonly number[]

/** The joint prompt's mask for each point set (raster indices, ascending): one call per step. */
export type JointMasks = (pointSets: readonly (readonly number[])[]) => Promise<CropMask[]>

export interface BoxGreedyResult extends GreedyResult {
  /** IoU of the box alone */
  boxIou: number
  /** the final joint prompt's mask */
  mask: CropMask
  /** prompts asked for (the box alone included) and steps that asked (one call of `masks` each) */
  prompts: number
  steps: number
}

/** IoU of one crop mask with the full-size G, counted inside the crop (its area gives the rest). */
export function cropIou(gt: Mask, gtArea: number, m: CropMask, empty: Uint8Array): number {
  if (m.area === 0) return 0
  const {gain, cost} = countAgainst(m, gt.data, empty, gt.width)
  return gain / (gtArea + cost)
}

export async function boxGreedySelect(
  gt: Mask,
  candidates: BoxCandidates,
  masks: JointMasks,
  options: GreedyOptions,
): Promise<BoxGreedyResult> {
  const gtArea = maskArea(gt)
  const empty = new Uint8Array(gt.data.length)
  const [boxMask] = await masks([[]])
  const boxIou = cropIou(gt, gtArea, boxMask, empty)
  const state = {chosen: [] as number[], mask: boxMask, iou: boxIou}
  const trace: number[] = []
  let prompts = 1
  let steps = 1
  let stop: GreedyResult['stop'] = 'no-gain'
  while (state.iou < options.tau && state.chosen.length < options.maxTokens) {
    const taken = new Set(state.chosen)
    // ascending, so that "first best wins" is the lower-index tie rule
    const pool = [...new Set(candidates(state))].filter((k) => !taken.has(k)).sort((a, b) => a - b)
    if (pool.length === 0) break
    const sets = pool.map((c) => [...state.chosen, c].sort((a, b) => a - b))
    const out = await masks(sets)
    prompts += sets.length
    steps++
    let best = -1
    let bestIou = -1
    out.forEach((m, k) => {
      const v = cropIou(gt, gtArea, m, empty)
      if (v > bestIou) [best, bestIou] = [k, v]
    })
    if (bestIou - state.iou <= options.epsilon) break
    state.chosen.push(pool[best])
    state.mask = out[best]
    state.iou = bestIou
    trace.push(bestIou)
  }
  if (state.iou >= options.tau) stop = 'tau'
  else if (state.chosen.length >= options.maxTokens) stop = 'cap'
  return {chosen: state.chosen, trace, iou: state.iou, reached: state.iou >= options.tau, stop, boxIou, mask: state.mask, prompts, steps}
}
