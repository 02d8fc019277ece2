/**
 * Tokens back to a mask (SPEC §4): apply each point's offset, drop the points
 * marked <DELETE>, prompt SAM at every remaining point with the record's mask
 * policy, and take the union of the masks.
 */
import {type Cell, type GridFrame, cellToAnchor, landingPoint} from '../../core/grid/grid.js'
import {type MaskPolicy, maskTokenForPolicy} from '../../core/selection/policy.js'
import {SAM_LOW_RES, lowResLogitsToCropMask} from '../../core/masks/sam-geometry.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import type {OffsetTarget} from '../../core/grid/tokens.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'

export interface DecodeInput {
  cells: readonly Cell[]
  /** one per cell, or none (no refinement round) */
  offsets?: readonly OffsetTarget[]
  flipV?: boolean
}

/** Pixel points that SAM is prompted at, after offsets and deletions. */
export function tokensToPromptPoints(input: DecodeInput, grid: GridFrame): [number, number][] {
  if (input.offsets && input.offsets.length !== input.cells.length) {
    throw new Error(`${input.offsets.length} offset tokens for ${input.cells.length} grid tokens: they must pair one to one`)
  }
  const points: [number, number][] = []
  input.cells.forEach(([i, j], k) => {
    const off = input.offsets?.[k]
    if (off === 'delete') return
    points.push(off ? landingPoint(i, j, off, grid, input.flipV) : cellToAnchor(i, j, grid))
  })
  return points
}

export async function decodeTokens(
  engine: SamEngine,
  embedding: ImageEmbedding,
  input: DecodeInput,
  grid: GridFrame,
  policy: MaskPolicy,
): Promise<CropMask[]> {
  return masksAtPoints(engine, embedding, tokensToPromptPoints(input, grid), policy)
}

/** SAM masks at arbitrary points (decoding, SPEC §4): no cache, any policy. */
export async function masksAtPoints(
  engine: SamEngine,
  embedding: ImageEmbedding,
  points: readonly [number, number][],
  policy: MaskPolicy,
): Promise<CropMask[]> {
  const outputs = await engine.decodePoints(embedding, points)
  return outputs.map((o) =>
    lowResLogitsToCropMask(o.logits, maskTokenForPolicy(o.scores, policy) * SAM_LOW_RES * SAM_LOW_RES, embedding.frame),
  )
}
