/** One photo to one SAM image embedding: decode, check its size against the annotation file, encode once. */
import {GetokError} from '../../core/errors.js'
import type {CocoImage} from '../../core/coco/records.js'
import {loadImage, resizeForSam} from '../../adapters/images.js'
import type {ImageEmbedding, SamEngine} from '../../sam/engine.js'

export async function encodeImageFile(engine: SamEngine, image: CocoImage, imagePath: string): Promise<ImageEmbedding> {
  const placed = (error: unknown) => {
    throw error instanceof GetokError ? error.at({record: `image ${image.id}`}) : error
  }
  const loaded = await loadImage(imagePath).catch(placed)
  if (loaded.width !== image.width || loaded.height !== image.height) {
    throw new GetokError(
      'image size disagrees with the annotation file (not resized: masks would not line up)',
      {file: imagePath, record: `image ${image.id}`, field: 'width/height'},
      `${image.width}x${image.height}`,
      `${loaded.width}x${loaded.height}`,
    )
  }
  const {rgb, frame} = await resizeForSam(loaded).catch(placed)
  return engine.encode(rgb, frame)
}
