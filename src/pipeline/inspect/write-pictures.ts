/**
 * Rendered pictures to files: one PNG each, written as soon as it is drawn (so a long selection holds
 * one picture in memory, and an interrupted run keeps what it drew), or all on one contact sheet,
 * sheet.png. Names are fixed up front, in selection order, whatever order the pictures are drawn in.
 */
import * as path from 'node:path'
import {type RenderedPicture, composeSheet} from '../../adapters/render.js'
import {writeFileAtomic} from '../../adapters/shards.js'
import {type Progress, silentProgress} from '../shared/progress.js'
import {makeOutFolder} from '../shared/out-files.js'

export interface PictureOutput {
  out: string
  /** one contact sheet instead of one PNG per picture */
  sheet?: {columns: number; thumb: number}
  palette?: boolean
  /** one tick per picture drawn */
  progress?: Progress
}

export interface WrittenPictures<S> {
  files: string[]
  pictures: (S & {file: string})[]
}

export class PictureWriter<S extends object> {
  private readonly tiles: RenderedPicture[] = []
  private readonly written: (S & {file: string})[] = []
  private readonly progress: Progress
  private done = 0

  /** `names`: one PNG name per picture, in selection order; a repeated name gets the picture's number. */
  private constructor(
    private readonly output: PictureOutput,
    private readonly names: string[],
  ) {
    this.progress = output.progress ?? silentProgress
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
    if (this.output.sheet) this.tiles[index] = picture
    else await writeFileAtomic(path.join(this.output.out, this.names[index]), picture.png)
    const file = path.join(this.output.out, this.output.sheet ? 'sheet.png' : this.names[index])
    this.written[index] = {file, ...summary}
    this.progress.tick(++this.done)
  }

  async finish(): Promise<WrittenPictures<S>> {
    this.progress.end()
    if (this.output.sheet) {
      const sheet = await composeSheet(this.tiles, {columns: this.output.sheet.columns, palette: this.output.palette})
      const file = path.join(this.output.out, 'sheet.png')
      await writeFileAtomic(file, sheet.png)
      return {files: [file], pictures: this.written}
    }
    return {files: this.written.map((p) => p.file), pictures: this.written}
  }
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
