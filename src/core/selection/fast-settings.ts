/**
 * The settings of `--candidates fast` (cover-greedy.ts), chosen on the 97 tiny-coco images with
 * objects, val2017 and train2017, by replaying every strategy on the same decoded masks
 * (scripts/strategies.ts; the chain of steps and its figures are in docs/benchmarks.md). What they
 * amount to, by the size of the object's pool (the cells it touches):
 *
 * | pool cells | cover walk lattice         | walks outside anchors      | climbs to                                 | climb skips covered points |
 * |------------|----------------------------|----------------------------|-------------------------------------------|----------------------------|
 * | 1–4        | every cell                 | yes, cells ≥ 10 % covered  | any of the 8 neighbours                   | no                         |
 * | 5–32       | every cell                 | yes, cells ≥ 10 % covered  | 8 neighbours in the object or a chosen mask | no                       |
 * | 33–64      | every cell                 | no                         | 8 neighbours in the object or a chosen mask | no                       |
 * | 65–200     | checkerboard               | no                         | 4 edge neighbours, same condition         | yes, by masks ≥ 99 % inside |
 * | > 200      | every other row and column | no                         | 4 edge neighbours, same condition         | yes, by masks ≥ 99 % inside |
 *
 * Everywhere: anchors deepest inside the object first; a mask stands for the points it covers once
 * 80 % of it lies inside the object; the climb may go one cell beyond the pool; masks decoded for the
 * image's earlier objects are free candidates (what lets the climb stay this short).
 *
 * Why, as measured (calls are against `--candidates all`, IoU is mean IoU against it):
 * - Sparse lattices above 64 and 200 cells: a big object's masks are big too, and the climb fills in
 *   beside the points that win (7.4× fewer calls at −0.0025 where every cell cost 6.2× at −0.0021).
 * - Outside anchors only up to 32 cells, and only where the object covers a tenth of the cell: SAM at
 *   an anchor the object only grazes mostly segments what lies beside it.
 * - Climbing outside the object and the chosen masks only up to 4 cells: such climbs were 2 700
 *   prompts, a quarter of all, and 15 of them were chosen; objects of at most 4 cells often get their
 *   best mask from a point just outside them.
 * - Edge neighbours only above 64 cells: on a checkerboard the diagonal ones were walked already.
 * - The climb's skip only above 64 cells: in smaller pools it lost the best point of several
 *   medium objects (up to 0.167 IoU on one), since SAM at a point inside a precise part of the object
 *   may return the whole object; above 64 cells it cost no IoU.
 * Result: 12.0× fewer calls than `all` on the 48 val images at −0.0033 mean IoU, 9.8× on the 49 train
 * images at −0.0041, tokens +0.3% and +0.6%.
 */
import type {CoverOptions} from './cover-greedy.js'

export const FAST_COVER = {
  margin: 0,
  precision: 0.8,
  order: 'depth',
  outside: true,
  outsideMaxPool: 32,
  outsideMinCover: 0.1,
  sparseAbove: {checker: 64, quarter: 200},
  climbMargin: 1,
  climbEdgesAbove: 64,
  climbOutsideMaxPool: 4,
  climbPrecision: 0.99,
  climbSkipAbove: 64,
} as const satisfies Partial<CoverOptions> & {margin: number}
