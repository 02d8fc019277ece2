/**
 * Per-image cache of candidate masks: SAM is prompted at a grid anchor at most
 * once per image, however many annotations of that image need the point.
 */
import {type GridFrame, cellToAnchor, indexToCell} from '../../core/grid/grid.js'
import type {Candidate} from '../../core/selection/greedy.js'
import {type MaskPolicy, maskTokenForPolicy} from '../../core/selection/policy.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import {SAM_LOW_RES, lowResLogitsToCropMask} from '../../core/masks/sam-geometry.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'

export class ImageCandidates {
  /** per raster index, one mask per policy in `policies` order */
  private readonly cache = new Map<number, CropMask[]>()

  constructor(
    private readonly engine: SamEngine,
    private readonly embedding: ImageEmbedding,
    private readonly grid: GridFrame,
    private readonly policies: readonly MaskPolicy[],
    private readonly batch = 1,
  ) {}

  get decoded(): number {
    return this.cache.size
  }

  /** Every candidate decoded so far for this image: free to reuse for the next object. */
  known(policy: MaskPolicy = this.policies[0]): Candidate[] {
    const slot = this.policies.indexOf(policy)
    return [...this.cache].map(([index, masks]) => ({index, mask: masks[slot]}))
  }

  /** Candidate masks for these raster indices, prompting SAM only for new ones. */
  async get(indices: readonly number[], policy: MaskPolicy = this.policies[0]): Promise<Candidate[]> {
    const slot = this.policies.indexOf(policy)
    if (slot < 0) throw new Error(`policy ${policy} was not cached for this image`)
    const missing = indices.filter((k) => !this.cache.has(k))
    // chunked so that at most a chunk of raw logits (4×256×256 floats, 1 MB a prompt) is alive at once
    const chunk = Math.max(this.batch, 16)
    for (let s = 0; s < missing.length; s += chunk) {
      const part = missing.slice(s, s + chunk)
      const points = part.map((k) => {
        const [i, j] = indexToCell(k, this.grid.n)
        return cellToAnchor(i, j, this.grid)
      })
      const outputs = await this.engine.decodePoints(this.embedding, points, this.batch)
      outputs.forEach((o, m) => {
        const masks = this.policies.map((p) =>
          lowResLogitsToCropMask(o.logits, maskTokenForPolicy(o.scores, p) * SAM_LOW_RES * SAM_LOW_RES, this.embedding.frame),
        )
        this.cache.set(part[m], masks)
      })
    }
    return indices.map((index) => ({index, mask: this.cache.get(index)![slot]}))
  }
}
