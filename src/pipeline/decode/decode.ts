/**
 * Tokens back to a mask (SPEC §4): apply each point's offset, drop the points
 * marked <DELETE>, prompt SAM at every remaining point with the record's mask
 * policy, and take the union of the masks.
 */
import {type Cell, type GridFrame, cellToAnchor, landingPoint} from '../../core/grid/grid.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import type {CropMask} from '../../core/masks/sam-geometry.js'
import type {OffsetTarget} from '../../core/grid/tokens.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'
import {masksAtPoints} from '../curate/image-candidates.js'

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
