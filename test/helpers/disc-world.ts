/**
 * Stand-in candidate masks for the selector unit tests (never for pipeline
 * tests, which run real SAM): discs, and a small deterministic random source.
 */
import type {Mask} from '../../src/core/masks/mask.js'
import type {CropMask} from '../../src/core/masks/sam-geometry.js'

/** A filled disc of radius r around (cx, cy), cropped to a W×H image. */
export function disc(cx: number, cy: number, r: number, W: number, H: number): CropMask {
  const x0 = Math.max(0, Math.floor(cx - r)),
    y0 = Math.max(0, Math.floor(cy - r))
  const w = Math.min(W, Math.ceil(cx + r)) - x0,
    h = Math.min(H, Math.ceil(cy + r)) - y0
  const data = new Uint8Array(w * h)
  let area = 0
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (Math.hypot(x0 + x + 0.5 - cx, y0 + y + 0.5 - cy) <= r) {
        data[y * w + x] = 1
        area++
      }
  return {x0, y0, w, h, data, area}
}

/** Linear congruential generator in [0, 1), seeded. */
export function seededRandom(seed: number): () => number {
  let s = seed
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

/** A full-image ground-truth mask holding one disc. */
export function discMask(cx: number, cy: number, r: number, W: number, H: number): Mask {
  const data = new Uint8Array(W * H)
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r) data[y * W + x] = 1
  return {width: W, height: H, data}
}
