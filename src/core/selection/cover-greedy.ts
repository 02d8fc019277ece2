/**
 * Cover-and-climb: the greedy rule of greedy.ts over far fewer SAM prompts.
 *
 * 1. Cover: walk the object's pool (cells it touches, see candidates.ts) with
 *    anchors inside the object first, and prompt a point only when no mask
 *    known so far covers its anchor while lying mostly (≥ `precision`) inside
 *    the object: SAM returns that same mask there, so the point would add
 *    nothing new.
 *    Masks already decoded for other objects of the image (`known`) join as
 *    candidates at no cost, but do not stand for other points: the walk still
 *    starts at this object's own deepest anchor (measured: letting them stand
 *    saved 1% of the prompts and lost IoU).
 *    Large pools are walked on a sparser lattice (`sparseAbove`): a big object's
 *    masks are big too, and the climb fills in beside the points that win.
 * 2. Climb: run the greedy rule over what was prompted, then prompt the unprompted
 *    neighbours of the chosen points (and, with `climbRatio`, of every point whose
 *    mask alone is nearly as good as the best), within the pool grown by
 *    `climbMargin`, and run it again, until the choice settles. The best masks
 *    often come from a point beside one that is almost as good. Large pools may
 *    climb along edges only (`climbEdgesAbove`): on a checkerboard the diagonal
 *    neighbours were walked already (or covered), the edge ones not. Pools past
 *    `climbOutsideMaxPool` cells skip neighbours whose anchor lies outside both
 *    the object and the chosen masks (measured: 2 700 such prompts, 15 chosen).
 *
 * Measured against the exhaustive rule in docs/benchmarks.md (`--candidates fast`).
 */
import {cellCoverage, dilateCells} from './candidates.js'
import {depthAt, distanceInsideWindow} from '../masks/distance.js'
import {type GridFrame, cellNeighbours, cellToAnchor} from '../grid/grid.js'
import {type Candidate, type Counts, type GreedyOptions, type GreedyResult, countAgainst, greedySelect} from './greedy.js'
import {type Mask, maskArea} from '../masks/mask.js'
import {type CropMask, cropHas} from '../masks/crop-mask.js'
import {type Box, maskBox} from '../masks/box.js'

export interface CoverOptions extends GreedyOptions {
  /** share of a mask that must lie inside the object for it to stand for the points it covers */
  precision: number
  /** walk order of the inside anchors: raster, or deepest inside the object first */
  order?: 'raster' | 'depth'
  /** prompt the pool points whose anchor lies outside the object in the cover walk too (else only the climb reaches them) */
  outside?: boolean
  /** with `outside`, walk the outside anchors only of pools of at most this many cells (default: of every pool) */
  outsideMaxPool?: number
  /** with `outside`, walk an outside anchor only when the object covers at least this share of its cell (default 0: every one) */
  outsideMinCover?: number
  /** in the climb, skip neighbours whose anchor a mask at least this precise already covers (default: never skip) */
  climbPrecision?: number
  /** apply `climbPrecision` only in pools of more than this many cells (default 0: in every pool) */
  climbSkipAbove?: number
  /**
   * pools of more than this many cells climb only to neighbours whose anchor lies in the object or in
   * a chosen mask (default: every pool climbs everywhere)
   */
  climbOutsideMaxPool?: number
  /** the climb may leave the pool by this many cells (default 0) */
  climbMargin?: number
  /** pools of more than this many cells climb to the 4 edge-sharing neighbours of a point only, not the diagonal ones (default: none) */
  climbEdgesAbove?: number
  /**
   * climb also from every prompted point whose mask alone reaches this share of the best single-mask
   * IoU (default: only from the chosen points)
   */
  climbRatio?: number
  /**
   * walk large pools on a sparser lattice: pools of more than `checker` cells on a checkerboard,
   * of more than `quarter` cells on every other row and column (the climb still reaches every cell
   * beside a chosen point); default: every cell
   */
  sparseAbove?: {checker: number; quarter: number}
  /** masks decoded earlier for the same image, free to use; their points are never prompted again */
  known?: Iterable<Candidate>
}

type Fetch = (indices: number[]) => Promise<Candidate[]>

export async function coverGreedySelect(
  gt: Mask,
  f: GridFrame,
  pool: readonly number[],
  fetch: Fetch,
  options: CoverOptions,
): Promise<GreedyResult> {
  const climbPrecision = pool.length > (options.climbSkipAbove ?? 0) ? (options.climbPrecision ?? Infinity) : Infinity
  const seen = new SeenMasks(gt, f, Math.min(options.precision, climbPrecision))
  for (const cand of options.known ?? []) seen.learn(cand, false)
  for (const k of coverWalk(gt, f, pool, options)) {
    if (seen.have.has(k) || seen.covered(k, options.precision)) continue
    const [cand] = await fetch([k])
    seen.learn(cand)
  }
  return climb(gt, f, pool, fetch, options, seen, climbPrecision)
}

/** Every mask seen (prompted or known), with what the walk and the climb ask of it. */
class SeenMasks {
  readonly have = new Map<number, Candidate>()
  /** masks that may stand for the points they cover, with the share of them inside the object */
  private readonly covers: {mask: CropMask; share: number}[] = []
  /** counts against the empty union, for the greedy rule */
  readonly first = new Map<number, Counts>()
  /** IoU alone with the object, for the climb */
  readonly alone = new Map<number, number>()
  private readonly gtBox: Box
  private readonly gtArea: number
  private readonly empty: Uint8Array

  constructor(
    private readonly gt: Mask,
    private readonly f: GridFrame,
    private readonly standsForAbove: number,
  ) {
    this.gtBox = maskBox(gt)
    this.gtArea = maskArea(gt)
    this.empty = new Uint8Array(gt.data.length)
  }

  learn(cand: Candidate, standsFor = true): void {
    this.have.set(cand.index, cand)
    // counted inside the object's box only: masks far from it (most known ones) cost nothing
    const counts = countAgainst(cand.mask, this.gt.data, this.empty, this.gt.width, this.gtBox)
    this.first.set(cand.index, counts)
    const inside = counts.gain
    this.alone.set(cand.index, inside / Math.max(1, cand.mask.area + this.gtArea - inside))
    const share = cand.mask.area > 0 ? inside / cand.mask.area : 0
    if (standsFor && share >= this.standsForAbove) this.covers.push({mask: cand.mask, share})
  }

  /** A mask at least this precise already covers the point's anchor. */
  covered(k: number, precision: number): boolean {
    const p = anchorPixel(k, this.f)
    return this.covers.some((c) => c.share >= precision && cropHas(c.mask, p % this.f.width, Math.floor(p / this.f.width)))
  }
}

/** The image pixel (raster offset) holding a grid point's anchor. */
function anchorPixel(k: number, f: GridFrame): number {
  const [x, y] = cellToAnchor(k % f.n, Math.floor(k / f.n), f)
  return Math.min(f.height - 1, Math.floor(y)) * f.width + Math.min(f.width - 1, Math.floor(x))
}

/** The cover walk's points, in order: inside anchors (deepest first with `order: 'depth'`), then the outside ones it takes. */
function coverWalk(gt: Mask, f: GridFrame, pool: readonly number[], options: CoverOptions): number[] {
  const {order = 'raster', outside = true} = options
  // depth 0 outside the object, so inside anchors come first in either order
  const window = order === 'depth' ? distanceInsideWindow(gt) : undefined
  const depth = (k: number): number => {
    const p = anchorPixel(k, f)
    return window ? depthAt(window, p % f.width, Math.floor(p / f.width)) : gt.data[p]
  }
  const onLattice = latticeFilter(pool.length, f.n, options.sparseAbove)
  const walkOutside = outside && pool.length <= (options.outsideMaxPool ?? Infinity)
  // a cell the object only grazes: SAM at its anchor mostly segments what lies beside the object
  const share = walkOutside && options.outsideMinCover ? cellCoverage(gt, f) : undefined
  const walksOutside = (k: number): boolean => walkOutside && (!share || share[k] >= options.outsideMinCover!)
  return pool.filter((k) => (gt.data[anchorPixel(k, f)] || walksOutside(k)) && onLattice(k)).sort((a, b) => depth(b) - depth(a) || a - b)
}

/** Run the greedy rule over what was prompted, prompt the unprompted neighbours of its choice, repeat until it settles. */
async function climb(
  gt: Mask,
  f: GridFrame,
  pool: readonly number[],
  fetch: Fetch,
  options: CoverOptions,
  seen: SeenMasks,
  climbPrecision: number,
): Promise<GreedyResult> {
  const {climbMargin = 0, climbRatio = Infinity, climbEdgesAbove = Infinity} = options
  const climbOutside = pool.length <= (options.climbOutsideMaxPool ?? Infinity)
  const reach = new Set(climbMargin > 0 ? growCells(pool, f.n, climbMargin) : pool)
  const step = pool.length > climbEdgesAbove ? 4 : 8
  // SAM at an anchor outside the object and outside every chosen mask segments something else
  const climbable = (k: number, chosen: readonly number[]): boolean => {
    if (climbOutside) return true
    const p = anchorPixel(k, f)
    return gt.data[p] !== 0 || chosen.some((c) => cropHas(seen.have.get(c)!.mask, p % f.width, Math.floor(p / f.width)))
  }
  for (;;) {
    // masks that miss the object can never be chosen
    const result = greedySelect(
      gt,
      [...seen.have.values()].filter((c) => seen.first.get(c.index)!.gain > 0),
      options,
      seen.first,
    )
    const best = Math.max(0, ...seen.alone.values())
    const from = [...result.chosen, ...[...seen.alone].filter(([, v]) => v > 0 && v >= climbRatio * best).map(([k]) => k)]
    const fresh = [...new Set(from.flatMap((k) => cellNeighbours(k, f.n, step)))].filter(
      (q) => reach.has(q) && !seen.have.has(q) && !seen.covered(q, climbPrecision) && climbable(q, result.chosen),
    )
    // nothing chosen yet (the walk met no anchor whose mask meets the object): prompt the rest of the pool
    const next = result.chosen.length === 0 ? pool.filter((k) => !seen.have.has(k)) : fresh
    if (next.length === 0) return result
    for (const cand of await fetch(next)) seen.learn(cand)
  }
}

function latticeFilter(poolSize: number, n: number, sparse?: {checker: number; quarter: number}): (k: number) => boolean {
  if (sparse && poolSize > sparse.quarter) return (k) => (k % n) % 2 === 0 && Math.floor(k / n) % 2 === 0
  if (sparse && poolSize > sparse.checker) return (k) => ((k % n) + Math.floor(k / n)) % 2 === 0
  return () => true
}

function growCells(cells: readonly number[], n: number, margin: number): number[] {
  const marks = new Uint8Array(n * n)
  for (const k of cells) marks[k] = 1
  const grown = dilateCells(marks, n, margin)
  return [...grown.keys()].filter((k) => grown[k])
}
