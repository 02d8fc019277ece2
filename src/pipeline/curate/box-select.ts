/**
 * Curation under the `box` decode rule (SPEC §8), for one object: the box corners on the half-cell
 * lattice (core/decode/prompts.ts `curationBox`), then the box greedy (core/selection/box-greedy.ts)
 * with SAM answering each step's joint prompts together, in decoder runs of up to `--batch` prompts.
 *
 * The prompt for a point set is [box top-left, box bottom-right, the points' anchors in raster
 * order] with labels [2, 3, 1, …]: exactly what decoding a record with these points builds.
 */
import {type Pixel, answerBoxCorners, boxPrompt, curationBox} from '../../core/decode/prompts.js'
import {type Cell, type GridFrame, type Move, cellToAnchor, indexToCell} from '../../core/grid/grid.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import {type BoxOrder, BOX_FAST, boxCandidates} from '../../core/selection/box-candidates.js'
import {type BoxGreedyResult, type JointMasks, boxGreedySelect} from '../../core/selection/box-greedy.js'
import type {CandidateMode} from '../../core/selection/candidates.js'
import type {GreedyOptions} from '../../core/selection/greedy.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'
import {masksForPrompts} from '../decode/decode.js'
import type {PreparedObject} from '../shared/objects.js'

/** `--candidates` under the box rule: all and pool as for union, fast the measured cheap order. */
export function boxOrderFor(candidates: CandidateMode, margin: number): BoxOrder {
  if (candidates === 'all') return {kind: 'all'}
  return candidates === 'pool' ? {kind: 'pool', margin} : BOX_FAST
}

/** The joint prompt's mask for each point set, by the policy, a step's prompts in runs of `runSize`. */
export function boxJointMasks(
  engine: SamEngine,
  embedding: ImageEmbedding,
  grid: GridFrame,
  [topLeft, bottomRight]: [Pixel, Pixel],
  policy: MaskPolicy,
  runSize: number,
): JointMasks {
  const anchor = (k: number): Pixel => cellToAnchor(...indexToCell(k, grid.n), grid)
  return async (sets) => {
    const prompts = sets.map((set) => boxPrompt(topLeft, bottomRight, set.map(anchor)))
    const out: CropMask[] = []
    // chunked so that at most one run's raw logits (1 MB a prompt) are alive at once
    for (let s = 0; s < prompts.length; s += runSize) {
      out.push(...(await masksForPrompts(engine, embedding, prompts.slice(s, s + runSize), policy, runSize)))
    }
    return out
  }
}

export interface BoxSelection {
  greedy: BoxGreedyResult
  /** the box grid tokens and their moves to the lattice corners (the record's box_offsets) */
  box: [Cell, Cell]
  boxMoves: [Move, Move]
}

export interface BoxSelectOptions extends GreedyOptions {
  policy: MaskPolicy
  order: BoxOrder
  runSize: number
}

/** `wrap` lets a caller see or share the joint masks (the benchmark memoises them across orders). */
export async function selectBoxPoints(
  engine: SamEngine,
  embedding: ImageEmbedding,
  object: PreparedObject,
  grid: GridFrame,
  options: BoxSelectOptions,
  wrap: (masks: JointMasks) => JointMasks = (m) => m,
): Promise<BoxSelection> {
  const {box, boxMoves} = curationBox(object.bbox, grid)
  const corners = answerBoxCorners(box, boxMoves, grid)
  const masks = wrap(boxJointMasks(engine, embedding, grid, corners, options.policy, options.runSize))
  const greedy = await boxGreedySelect(object.mask, boxCandidates(options.order, object.mask, grid), masks, options)
  return {greedy, box, boxMoves}
}
