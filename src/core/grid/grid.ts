/**
 * The GETok grid (SPEC §1). An n×n lattice stretched over the whole image:
 * a cell is W/n wide and H/n tall. Grid point (i, j): i is the column (x, left
 * to right), j the row (y, top to bottom), both from 0. Its anchor is the cell
 * centre in continuous pixel coordinates, where pixel k spans [k, k+1):
 *
 *   cellToAnchor(4, 3) with n = 32, W = 640, H = 480  →  [90, 52.5]
 *
 * Offsets move a point half a cell: <OFF_{du,dv}> adds (du·W/2n, dv·H/2n);
 * dv = +1 is down in image y unless the flip-v convention is chosen.
 */
export type Cell = [i: number, j: number]
export type Move = [du: number, dv: number]

export interface GridFrame {
  n: number
  width: number
  height: number
}

/** Cell centre in pixels. */
export function cellToAnchor(i: number, j: number, f: GridFrame): [x: number, y: number] {
  return [((i + 0.5) * f.width) / f.n, ((j + 0.5) * f.height) / f.n]
}

/** The cell that holds pixel coordinate (x, y); points on or past the far edge go to the last cell. */
export function pointToCell(x: number, y: number, f: GridFrame): Cell {
  const i = Math.min(f.n - 1, Math.max(0, Math.floor((x * f.n) / f.width)))
  const j = Math.min(f.n - 1, Math.max(0, Math.floor((y * f.n) / f.height)))
  return [i, j]
}

/** Grid point whose anchor is nearest to (x, y); used for box corners (SPEC §2). Ties go to the lower index. */
export function pointToNearestCell(x: number, y: number, f: GridFrame): Cell {
  const clamp = (v: number) => Math.min(f.n - 1, Math.max(0, v))
  // In cell units u = x·n/W, anchor a sits at a + 0.5; the nearest is ceil(u − 1), which sends ties (u on a cell edge) down.
  const near = (u: number) => clamp(Math.ceil(u - 1))
  return [near((x * f.n) / f.width), near((y * f.n) / f.height)]
}

/** Pixel displacement of one offset move (half a cell per unit). */
export function moveToPixels([du, dv]: Move, f: GridFrame, flipV = false): [dx: number, dy: number] {
  return [(du * f.width) / (2 * f.n), ((flipV ? -dv : dv) * f.height) / (2 * f.n)]
}

/** Where a grid point lands after an offset move. */
export function landingPoint(i: number, j: number, move: Move, f: GridFrame, flipV = false): [x: number, y: number] {
  const [x, y] = cellToAnchor(i, j, f)
  const [dx, dy] = moveToPixels(move, f, flipV)
  return [x + dx, y + dy]
}

/** Raster index of a cell (row-major: by j, then i). */
export function cellToIndex(i: number, j: number, n: number): number {
  return j * n + i
}

export function indexToCell(k: number, n: number): Cell {
  return [k % n, Math.floor(k / n)]
}

/** Raster indices of the 8-connected (or, with 4, edge-sharing) neighbours of a cell on an n×n grid, the cell itself excluded. */
export function cellNeighbours(index: number, n: number, connectivity: 4 | 8 = 8): number[] {
  const i = index % n
  const j = Math.floor(index / n)
  const out: number[] = []
  for (let v = j - 1; v <= j + 1; v++) {
    for (let u = i - 1; u <= i + 1; u++) {
      if ((u === i && v === j) || (connectivity === 4 && u !== i && v !== j)) continue
      if (u >= 0 && v >= 0 && u < n && v < n) out.push(v * n + u)
    }
  }
  return out
}

/** Cells sorted in raster order (by j, then i), duplicates removed. */
export function sortCellsRaster(cells: readonly Cell[], n: number): Cell[] {
  const seen = new Set<number>()
  for (const [i, j] of cells) seen.add(cellToIndex(i, j, n))
  return [...seen].sort((a, b) => a - b).map((k) => indexToCell(k, n))
}

/** The nine moves in the fixed order used for ties (SPEC §5): zero move first, then row by row. */
export const MOVES: readonly Move[] = [
  [0, 0],
  [-1, -1],
  [0, -1],
  [1, -1],
  [-1, 0],
  [1, 0],
  [-1, 1],
  [0, 1],
  [1, 1],
]

/** Box corners at the grid points nearest the corners of a COCO box [x, y, w, h] (SPEC §2). */
export function boxXywhToCorners(bbox: readonly number[], f: GridFrame): [Cell, Cell] {
  const [x, y, w, h] = bbox
  return [pointToNearestCell(x, y, f), pointToNearestCell(x + w, y + h, f)]
}
