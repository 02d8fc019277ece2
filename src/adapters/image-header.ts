/**
 * An image's size from its file header alone, without decoding it and without sharp, for the
 * commands that only check that a photo exists and has the annotated size (`getok offsets -i`).
 * The only importer of image-size. Width and height are those of the upright picture: EXIF
 * orientations 5–8 swap them, as sharp's decoding (adapters/images.ts) does.
 */
import {existsSync, statSync} from 'node:fs'
import {imageSizeFromFile} from 'image-size/fromFile'
import {GetokError} from '../core/errors.js'

/** The checks every image read starts with: the path exists and is a file. */
export function checkImageFile(file: string): void {
  if (!existsSync(file)) throw new GetokError('image file not found', {file})
  if (!statSync(file).isFile()) throw new GetokError('image path is not a file', {file})
}

export async function readImageSize(file: string): Promise<{width: number; height: number}> {
  checkImageFile(file)
  let size: Awaited<ReturnType<typeof imageSizeFromFile>>
  try {
    size = await imageSizeFromFile(file)
  } catch (error) {
    throw new GetokError(`cannot read the image header (${(error as Error).message})`, {file})
  }
  if (!size.width || !size.height) throw new GetokError('cannot read the image header (no image size in it)', {file})
  const swap = (size.orientation ?? 1) >= 5
  return swap ? {width: size.height, height: size.width} : {width: size.width, height: size.height}
}
