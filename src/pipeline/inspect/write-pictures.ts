/**
 * Rendered pictures to files: one PNG each, written as soon as it is drawn (so a long selection holds
 * one picture in memory, and an interrupted run keeps what it drew), or on contact sheets: sheet.png, or
 * sheet-000.png, sheet-001.png, … of at most `perSheet` pictures each (fewer for large thumbnails), each
 * written once its pictures are drawn. One unbounded sheet of a large folder was a multi-gigapixel PNG.
 * Names are fixed up front, in selection order, whatever order the pictures are drawn in.
 */
import * as path from 'node:path'
import {type RenderedPicture, composeSheet} from '../../adapters/render.js'
import {writeFileAtomic} from '../../adapters/shards.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {makeOutFolder} from '../shared/out-files.js'

/** Contact sheets: pictures per row, a picture's long side, at most this many pictures a sheet. */
export interface SheetLayout {
  columns: number
  thumb: number
  perSheet: number
}

/** A sheet's pixels stay under this (sharp holds a sheet whole while it encodes it): ~300 MB of RGB. */
const MAX_SHEET_PIXELS = 100_000_000

export interface PictureOutput {
  out: string
  /** contact sheets instead of one PNG per picture */
  sheet?: SheetLayout
  palette?: boolean
  /** one tick per picture drawn */
  progress?: Progress
}

export interface WrittenPictures<S> {
  files: string[]
  pictures: (S & {file: string})[]
}

export class PictureWriter<S extends object> {
  private readonly tiles = new Map<number, RenderedPicture>()
  private readonly written: (S & {file: string})[] = []
  private readonly progress: Progress
  private readonly sheetFiles: string[] = []
  private readonly sheetsWritten = new Set<number>()
  private readonly perSheet: number
  private done = 0

  /** `names`: one PNG name per picture, in selection order; a repeated name gets the picture's number. */
  private constructor(
    private readonly output: PictureOutput,
    private readonly names: string[],
  ) {
    this.progress = output.progress ?? silentProgress
    this.perSheet = output.sheet ? tilesPerSheet(output.sheet) : 1
    const sheets = Math.ceil(names.length / this.perSheet)
    const digits = Math.max(3, String(sheets - 1).length)
    for (let k = 0; k < sheets; k++) this.sheetFiles.push(sheets === 1 ? 'sheet.png' : `sheet-${String(k).padStart(digits, '0')}.png`)
  }

  static async open<S extends object>(output: PictureOutput, names: readonly string[]): Promise<PictureWriter<S>> {
    await makeOutFolder(output.out)
    const used = new Set<string>()
    const unique = names.map((name, k) => {
      const n = used.has(name) ? name.replace(/\.png$/, `-${k + 1}.png`) : name
      used.add(n)
      return n
    })
    const writer = new PictureWriter<S>(output, unique)
    writer.progress.start(names.length, 0)
    return writer
  }

  /** Picture `index` (selection order) is drawn: written now, or kept for the sheet. */
  async add(index: number, picture: RenderedPicture, summary: S): Promise<void> {
    const sheet = Math.floor(index / this.perSheet)
    if (this.output.sheet) this.tiles.set(index, picture)
    else await writeFileAtomic(path.join(this.output.out, this.names[index]), picture.png)
    const file = path.join(this.output.out, this.output.sheet ? this.sheetFiles[sheet] : this.names[index])
    this.written[index] = {file, ...summary}
    if (this.output.sheet && this.sheetIndices(sheet).every((k) => this.tiles.has(k))) await this.writeSheet(sheet)
    this.progress.tick(++this.done)
  }

  async finish(): Promise<WrittenPictures<S>> {
    this.progress.end()
    if (this.output.sheet) {
      if (this.sheetFiles.length === 0) await composeSheet([], {columns: 1}) // says nothing was selected
      // a sheet some of whose pictures were never drawn: what it has
      for (let k = 0; k < this.sheetFiles.length; k++) if (this.sheetIndices(k).some((i) => this.tiles.has(i))) await this.writeSheet(k)
      const files = this.sheetFiles.filter((_, k) => this.sheetsWritten.has(k))
      return {files: files.map((f) => path.join(this.output.out, f)), pictures: this.written}
    }
    return {files: this.written.map((p) => p.file), pictures: this.written}
  }

  private sheetIndices(sheet: number): number[] {
    const first = sheet * this.perSheet
    return Array.from({length: Math.min(this.perSheet, this.names.length - first)}, (_, k) => first + k)
  }

  /** Sheet k from its pictures drawn so far, in selection order; they are let go. */
  private async writeSheet(sheet: number): Promise<void> {
    const indices = this.sheetIndices(sheet).filter((k) => this.tiles.has(k))
    const tiles = indices.map((k) => this.tiles.get(k)!)
    indices.forEach((k) => this.tiles.delete(k))
    const composed = await composeSheet(tiles, {columns: this.output.sheet!.columns, palette: this.output.palette})
    await writeFileAtomic(path.join(this.output.out, this.sheetFiles[sheet]), composed.png)
    this.sheetsWritten.add(sheet)
  }
}

/** --per-sheet, or fewer where thumbnails are so large that a sheet would pass MAX_SHEET_PIXELS (a tile: thumb², caption included). */
export function tilesPerSheet(sheet: SheetLayout): number {
  const tile = 1.25 * sheet.thumb * sheet.thumb
  return Math.max(1, Math.min(sheet.perSheet, Math.floor(MAX_SHEET_PIXELS / tile)))
}

/** One picture drawn already (answer mode): written as above. */
export async function writePicture<S extends object>(
  output: PictureOutput,
  name: string,
  picture: RenderedPicture,
  summary: S,
): Promise<WrittenPictures<S>> {
  const writer = await PictureWriter.open<S>({...output, progress: undefined}, [name])
  await writer.add(0, picture, summary)
  return writer.finish()
}
