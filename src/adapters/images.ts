/**
 * Pixels through sharp, the only importer of sharp in getok: decoding photos (JPEG/PNG/WebP/TIFF,
 * greyscale and CMYK become 8-bit sRGB; EXIF orientation is applied first, so width and height are
 * those of the upright picture), resizing, and laying images over each other into a PNG (for
 * adapters/render.ts).
 */
import sharp from 'sharp'
import {GetokError} from '../core/errors.js'
import {checkImageFile} from './image-header.js'
import {type SamFrame, samFrame} from '../core/masks/sam-geometry.js'

export interface LoadedImage {
  file: string
  width: number
  height: number
  /** the decoded pipeline, oriented; clone() before each use */
  pipeline: sharp.Sharp
}

// Decoding a 10000 px wide photo is fine; a decompression bomb is not.
const LIMIT_INPUT_PIXELS = 20000 * 20000

export async function loadImage(file: string): Promise<LoadedImage> {
  checkImageFile(file)
  try {
    const pipeline = sharp(file, {limitInputPixels: LIMIT_INPUT_PIXELS, failOn: 'error'}).rotate()
    const meta = await pipeline.metadata()
    // autoOrient dims: orientations 5–8 swap width and height
    const swap = (meta.orientation ?? 1) >= 5
    const width = swap ? meta.height : meta.width
    const height = swap ? meta.width : meta.height
    if (!width || !height) throw new Error('no image size in the file header')
    return {file, width, height, pipeline}
  } catch (error) {
    if (error instanceof GetokError) throw error
    throw new GetokError(`cannot decode image (${firstLine(error)})`, {file})
  }
}

/** Interleaved 8-bit RGB, W×H×3, of the image resized to SAM's 1024 frame. */
export async function resizeForSam(image: LoadedImage): Promise<{rgb: Uint8Array; frame: SamFrame}> {
  const frame = samFrame(image.width, image.height)
  try {
    const {data, info} = await image.pipeline
      .clone()
      .resize(frame.resizedWidth, frame.resizedHeight, {fit: 'fill', kernel: 'linear'})
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({resolveWithObject: true})
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`)
    return {rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), frame}
  } catch (error) {
    throw new GetokError(`cannot decode image (${firstLine(error)})`, {file: image.file})
  }
}

/** Full-size interleaved 8-bit RGB, for rendering. */
export async function readRgb(image: LoadedImage): Promise<Uint8Array> {
  const data = await image.pipeline.clone().toColourspace('srgb').removeAlpha().raw().toBuffer()
  return new Uint8Array(data.buffer, data.byteOffset, data.length)
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]
}

/** The photo resized to w×h (lanczos), RGB, row-major: a picture's base layer. */
export async function resizedRgb(image: LoadedImage, w: number, h: number): Promise<Buffer> {
  return image.pipeline.clone().resize(w, h, {fit: 'fill', kernel: 'lanczos3'}).toColourspace('srgb').removeAlpha().raw().toBuffer()
}

/** One layer of a composite: raw pixels of the given size and channel count, or an encoded image (PNG, SVG). */
export interface Layer {
  input: Buffer
  raw?: {width: number; height: number; channels: 3 | 4}
  top: number
  left: number
}

/**
 * Layers over a plain canvas, as a PNG; `palette` gives an 8-bit palette PNG (much smaller, slightly
 * dithered). sharp cannot composite and re-encode a palette in one pass, so that flattens to raw first.
 */
export async function compositePng(
  width: number,
  height: number,
  background: string,
  layers: readonly Layer[],
  palette = false,
): Promise<Buffer> {
  const canvas = sharp({create: {width, height, channels: 3, background}, limitInputPixels: false}).composite([...layers])
  if (!palette) return canvas.png({compressionLevel: 9}).toBuffer()
  const {data, info} = await canvas.raw().toBuffer({resolveWithObject: true})
  return sharp(data, {raw: {width: info.width, height: info.height, channels: info.channels}})
    .png({palette: true, colours: 256, dither: 0.6, compressionLevel: 9, effort: 8})
    .toBuffer()
}
