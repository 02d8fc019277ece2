import {readFileSync} from 'node:fs'
import {PNG} from 'pngjs'

// Pictures that getok writes (with sharp) are read back here with pngjs, a decoder that shares no code
// with the writer: a test then checks the file as any other viewer sees it, not sharp's own round trip.

export type Rgb = [number, number, number]

export const isRed = ([r, g, b]: Rgb): boolean => r > 200 && g < 60 && b < 60
export const isBlue = ([r, g, b]: Rgb): boolean => b > 180 && r < 80 && g < 140
/** The prompt box's orange (#ff8c00), told apart from the ground truth's yellow (#ffd500). */
export const isOrange = ([r, g, b]: Rgb): boolean => r > 220 && g > 100 && g < 175 && b < 70

export interface Pixels {
  width: number
  height: number
  /** The colour at (x, y), alpha dropped; fractional coordinates fall to their pixel. */
  at(x: number, y: number): Rgb
  /** Some pixel within one pixel of (x, y) passes: thin diagonal strokes are antialiased. */
  near(x: number, y: number, test: (p: Rgb) => boolean): boolean
}

/** A PNG file, or its bytes, as pixels. */
export function readPng(source: string | Buffer): Pixels {
  const {width, height, data} = PNG.sync.read(typeof source === 'string' ? readFileSync(source) : source)
  const at = (x: number, y: number): Rgb => {
    const k = (Math.floor(y) * width + Math.floor(x)) * 4 // pngjs gives RGBA whatever the file's colour type
    return [data[k], data[k + 1], data[k + 2]]
  }
  const near = (x: number, y: number, test: (p: Rgb) => boolean): boolean =>
    [0, -1, 1].some((dy) => [0, -1, 1].some((dx) => test(at(x + dx, y + dy))))
  return {width, height, at, near}
}
