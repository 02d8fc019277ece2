/**
 * A token set as a picture, in pure code: the marks as an SVG overlay and the
 * decoded mask as an RGBA overlay, both at the output size. The adapter
 * (adapters/render.ts) lays them over the photo.
 *
 * Coordinates: marks are given in image pixels (SPEC §1, continuous, pixel k
 * spans [k, k+1)); the output scales them by sx = outWidth/W, sy = outHeight/H.
 * The photo fills the top outWidth×outHeight of the canvas; the caption band
 * lies below it.
 *
 *   red dot       a grid token, centred on its anchor ((i+0.5)·W/n, (j+0.5)·H/n)
 *   blue arrow    its offset, from the anchor to the landing point
 *   blue ring     the offset <OFF_0_0> (the point stays)
 *   blue cross    <DELETE> (the point is dropped before decoding)
 *   yellow line   the ground-truth outline
 *   green fill    the mask decoded from the tokens (SPEC §4, §8)
 *   orange box    the box rule's prompt box (SPEC §8): the corners SAM was given; red squares on the
 *                 box tokens' anchors, blue arrows (or rings) for the corners' moves
 *   faint lines   the grid lattice (cell edges)
 */
import type {Mask} from '../masks/mask.js'
import {captionSvg} from './caption.js'
import {boxSvg, latticeSvg, marksSvg, outlineSvg, polylineSvg, promptBoxSvg} from './marks.js'
import {COLOURS, LEGEND_MIN_WIDTH, type Layout, type Picture} from './picture.js'

export {COLOURS, type GridMark, type Layout, type Picture, type PromptBox} from './picture.js'
export {markSizes, maskToOutlinePath} from './marks.js'
export {escapeXml, fitText} from './caption.js'

/** Output size for a picture whose long side is `longSide` pixels. */
export function layoutFor(width: number, height: number, longSide: number, captionLines: number): Layout {
  const scale = longSide / Math.max(width, height)
  const w = Math.max(1, Math.round(width * scale))
  const h = Math.max(1, Math.round(height * scale))
  const fontSize = Math.min(18, Math.max(11, Math.round(w / 52)))
  const legend = w >= LEGEND_MIN_WIDTH
  const captionHeight = Math.round(fontSize * (0.9 + 1.4 * (captionLines + (legend ? 1 : 0))))
  return {width: w, height: h, sx: w / width, sy: h / height, fontSize, captionHeight, legend}
}

/** Translucent fill of `mask` at the output size (nearest neighbour), RGBA, row-major. */
export function maskToFillRgba(mask: Mask, layout: Layout): Uint8Array {
  const {width: W, height: H} = layout
  const out = new Uint8Array(W * H * 4)
  const [r, g, b] = COLOURS.fill
  const a = Math.round(COLOURS.fillAlpha * 255)
  const srcX = new Int32Array(W)
  for (let X = 0; X < W; X++) srcX[X] = Math.min(mask.width - 1, Math.floor((X + 0.5) / layout.sx))
  for (let Y = 0; Y < H; Y++) {
    const row = Math.min(mask.height - 1, Math.floor((Y + 0.5) / layout.sy)) * mask.width
    for (let X = 0; X < W; X++) {
      if (!mask.data[row + srcX[X]]) continue
      out.set([r, g, b, a], (Y * W + X) * 4)
    }
  }
  return out
}

/** The whole overlay: lattice, GT outline, marks and caption band, as one SVG document. */
export function pictureToSvg(picture: Picture, layout: Layout): string {
  const {width, height, captionHeight} = layout
  const body = [
    latticeSvg(picture.grid, layout),
    picture.gt ? outlineSvg(picture.gt, layout) : '',
    ...(picture.boxes ?? []).map((box) => boxSvg(box, picture.grid, layout)),
    ...(picture.polylines ?? []).map((path) => polylineSvg(path, picture.grid, layout)),
    ...(picture.promptBoxes ?? []).map((box) => promptBoxSvg(box, picture.grid, layout)),
    marksSvg(picture, layout),
    captionSvg(picture.caption, layout, (picture.promptBoxes ?? []).length > 0),
  ]
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + captionHeight}" ` +
    `viewBox="0 0 ${width} ${height + captionHeight}">${body.join('')}</svg>`
  )
}
