/**
 * The pointing answer of an object (SPEC §2 "Point: one grid token"; the choice is ours): the grid
 * point whose anchor lies deepest inside the object, depth being the Euclidean distance from the
 * pixel that holds the anchor to the nearest background pixel (core/masks/distance.ts). Ties go to
 * the lower raster index. An object that holds no anchor (smaller than a cell, or thin between two
 * anchors) is pointed at by the cell of its own deepest pixel: the nearest a grid token gets.
 *
 *   64×64 image, n = 4 (anchors at 8, 24, 40, 56 px), G = [16, 48) × [16, 44):
 *   the anchors of (1, 1), (2, 1), (1, 2), (2, 2) are in G at depths 9, 8, 4, 4 px → <grid_1_1>
 *
 * Why not a curated point: curate keeps the points whose SAM masks rebuild the object, and under
 * the box rule those are clicks added to a box prompt. Of 78 box-rule records with points on 24
 * tiny-coco val images, the curated point nearest their mean lay outside the object for 31, and
 * 100 more records had no point at all (docs/export.md "Pointing").
 */
import {distanceInsideWindow, depthAt} from '../masks/distance.js'
import type {Mask} from '../masks/mask.js'
import {type Cell, type GridFrame, cellToAnchor, pointToCell} from './grid.js'

/** The grid point to point at the object with; null for an empty mask. */
export function pointingCell(mask: Mask, f: GridFrame): Cell | null {
  const depth = distanceInsideWindow(mask)
  if (depth.w === 0) return null
  let best: Cell | null = null
  let bestDepth = 0
  // only the anchors inside the window can be in G
  for (let j = 0; j < f.n; j++) {
    for (let i = 0; i < f.n; i++) {
      const [x, y] = cellToAnchor(i, j, f)
      const d = depthAt(depth, Math.floor(x), Math.floor(y))
      if (d > bestDepth) {
        best = [i, j]
        bestDepth = d
      }
    }
  }
  if (best) return best
  // no anchor in G: the cell of G's deepest pixel (the first in row-major order on a tie)
  let k = 0
  for (let p = 1; p < depth.data.length; p++) if (depth.data[p] > depth.data[k]) k = p
  return pointToCell(depth.x0 + (k % depth.w) + 0.5, depth.y0 + Math.floor(k / depth.w) + 0.5, f)
}
