/** Rendered pictures to files: one PNG each, named by the caller, or all on one contact sheet, sheet.png. */
import {writeFile} from 'node:fs/promises'
import * as path from 'node:path'
import {type RenderedPicture, composeSheet} from '../../adapters/render.js'
import {makeOutFolder} from '../shared/out-files.js'

export interface PictureOutput {
  out: string
  /** one contact sheet instead of one PNG per picture */
  sheet?: {columns: number; thumb: number}
  palette?: boolean
}

export async function writePictures<S extends object>(
  output: PictureOutput,
  rendered: readonly {picture: RenderedPicture; summary: S}[],
  fileName: (s: S, k: number) => string,
): Promise<{files: string[]; pictures: (S & {file: string})[]}> {
  await makeOutFolder(output.out)
  if (output.sheet) {
    const sheet = await composeSheet(
      rendered.map((r) => r.picture),
      {columns: output.sheet.columns, palette: output.palette},
    )
    const file = path.join(output.out, 'sheet.png')
    await writeFile(file, sheet.png)
    return {files: [file], pictures: rendered.map((r) => ({file, ...r.summary}))}
  }
  const used = new Set<string>()
  const pictures: (S & {file: string})[] = []
  for (const [k, r] of rendered.entries()) {
    let name = fileName(r.summary, k)
    if (used.has(name)) name = name.replace(/\.png$/, `-${k + 1}.png`)
    used.add(name)
    const file = path.join(output.out, name)
    await writeFile(file, r.picture.png)
    pictures.push({file, ...r.summary})
  }
  return {files: pictures.map((p) => p.file), pictures}
}
