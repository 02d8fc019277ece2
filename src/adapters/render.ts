/**
 * Pictures: the photo scaled to the layout, the decoded-mask fill (raw RGBA) over it, then the SVG
 * overlay (marks and caption, rendered by librsvg with the system's fonts). Also contact sheets of
 * such pictures. The pixels go through adapters/images.ts, the one importer of sharp.
 */
import {type Layout, type Picture, layoutFor, maskToFillRgba, pictureToSvg} from '../core/draw/draw.js'
import {GetokError} from '../core/errors.js'
import {type Layer, type LoadedImage, compositePng, resizedRgb} from './images.js'

export interface RenderOptions {
  /** long side of the photo area, output pixels */
  longSide: number
  /** 8-bit palette PNG (much smaller, slightly dithered); for documentation pictures */
  palette?: boolean
}

export interface RenderedPicture {
  png: Buffer
  layout: Layout
  /** full canvas size: the photo plus the caption band */
  width: number
  height: number
}

/** The photo at the layout's size, RGB, row-major. The renderer's base layer. */
export async function photoRgb(image: LoadedImage, layout: Layout): Promise<Buffer> {
  return resizedRgb(image, layout.width, layout.height)
}

export async function renderPicture(image: LoadedImage, picture: Picture, options: RenderOptions): Promise<RenderedPicture> {
  const layout = layoutFor(image.width, image.height, options.longSide, picture.caption.length)
  const width = layout.width
  const height = layout.height + layout.captionHeight
  const layers: Layer[] = [{input: await photoRgb(image, layout), raw: {width, height: layout.height, channels: 3}, top: 0, left: 0}]
  if (picture.decoded) {
    const fill = maskToFillRgba(picture.decoded, layout)
    layers.push({
      input: Buffer.from(fill.buffer, fill.byteOffset, fill.length),
      raw: {width, height: layout.height, channels: 4},
      top: 0,
      left: 0,
    })
  }
  layers.push({input: Buffer.from(pictureToSvg(picture, layout)), top: 0, left: 0})
  try {
    const png = await compositePng(width, height, '#161616', layers, options.palette)
    return {png, layout, width, height}
  } catch (error) {
    throw new GetokError(`cannot render the picture (${String((error as Error).message).split('\n')[0]})`, {file: image.file})
  }
}

export interface SheetOptions {
  columns: number
  /** gap between tiles and around the sheet, pixels */
  gap?: number
  palette?: boolean
}

/** Tiles (rendered pictures, any heights) in rows of `columns`, left to right, top to bottom. */
export async function composeSheet(
  tiles: readonly RenderedPicture[],
  options: SheetOptions,
): Promise<{png: Buffer; width: number; height: number}> {
  if (tiles.length === 0) throw new GetokError('nothing to put on the contact sheet (no records selected)')
  const gap = options.gap ?? 6
  const columns = Math.min(options.columns, tiles.length)
  const cellW = Math.max(...tiles.map((t) => t.width))
  const rows: RenderedPicture[][] = []
  for (let k = 0; k < tiles.length; k += columns) rows.push(tiles.slice(k, k + columns))
  const rowHeights = rows.map((row) => Math.max(...row.map((t) => t.height)))
  const width = gap + columns * (cellW + gap)
  const height = gap + rowHeights.reduce((s, h) => s + h + gap, 0)
  const layers: Layer[] = []
  let top = gap
  rows.forEach((row, r) => {
    row.forEach((tile, c) => layers.push({input: tile.png, top, left: gap + c * (cellW + gap)}))
    top += rowHeights[r] + gap
  })
  return {png: await compositePng(width, height, '#2a2a2a', layers, options.palette), width, height}
}
