/**
 * Which of SAM's four mask tokens a grid point stands for (SPEC §3).
 *   single: token 0, SAM's single-output mask (its predictor with multimask off)
 *   best:   the highest predicted IoU among the three multimask tokens 1–3
 *           (what the shipped decoder graph returns for one click)
 */
export type MaskPolicy = 'single' | 'best'
export const MASK_POLICIES: readonly MaskPolicy[] = ['single', 'best']

export function maskTokenForPolicy(scores: ArrayLike<number>, policy: MaskPolicy): number {
  if (policy === 'single') return 0
  let best = 1
  for (let t = 2; t < 4; t++) if (scores[t] > scores[best]) best = t
  return best
}
