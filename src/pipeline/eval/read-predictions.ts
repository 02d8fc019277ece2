/**
 * Read a predictions file (and the exported data file its lines answer, where needed) into
 * prediction rows (core/eval/predictions.ts). A row that is not one of the form is counted with
 * its line and reason, never fatal; a file of no known form, or a reference that does not line up
 * with a LLaMA-Factory predictions file, stops the run.
 */
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import * as path from 'node:path'
import {parseJsonl} from '../../adapters/jsonl.js'
import {utf8Text} from '../../adapters/text-file.js'
import {GetokError} from '../../core/errors.js'
import {type Warn, checkAgainstManifest} from '../shared/input-folders.js'
import {
  type PredictionFormat,
  type PredictionRow,
  PREDICTION_FORMATS,
  detectFormat,
  readPredictionRow,
} from '../../core/eval/predictions.js'

export interface PredictionFile {
  file: string
  sha256: string
  format: PredictionFormat
  rows: PredictionRow[]
  /** rows that are not of the form: line and reason */
  bad: {line: number; reason: string}[]
  /** the split an exported data file's name gives (`swift-val.jsonl` → val), if any */
  fileSplit?: string
  reference?: {file: string; sha256: string; records: number}
}

/** `warn` is told when the --reference data file is not the bytes its export manifest lists (edited since export wrote it). */
export async function readPredictions(
  file: string,
  format: PredictionFormat | undefined,
  reference?: string,
  warn?: Warn,
): Promise<PredictionFile> {
  const {text, sha256} = await readText(file)
  const rows = parseJsonl<unknown>(text, file)
  if (rows.length === 0) throw new GetokError('no predictions in the file', {file})
  const detected = format ?? detectFormat(rows[0].value)
  if (!detected)
    throw new GetokError(
      'cannot tell the predictions format from its first line',
      {file, record: `line ${rows[0].line}`},
      'a plain {"answer", …}, ms-swift {"response", "messages", …} or LLaMA-Factory {"predict", …} row, ' +
        `or --format ${PREDICTION_FORMATS.join('|')}`,
    )
  const refs = reference ? await readReference(reference) : null
  if (refs && warn) await checkAgainstManifest(path.dirname(refs.file), new Map([[path.basename(refs.file), refs]]), warn)
  if (detected === 'llamafactory') {
    if (!refs)
      throw new GetokError(
        'LLaMA-Factory predictions need the data file they answer',
        {file, field: 'reference'},
        '--reference <exported data file>',
      )
    if (refs.records.length !== rows.length)
      throw new GetokError(
        'predictions and reference do not line up',
        {file, field: 'reference'},
        `${refs.records.length} prediction lines (one per record of ${refs.file})`,
        String(rows.length),
      )
  }
  const out: PredictionFile = {file, sha256, format: detected, rows: [], bad: []}
  rows.forEach(({value, line}, k) => {
    const row = readPredictionRow(detected, value, line, refs?.records[k])
    if (typeof row === 'string') out.bad.push({line, reason: row})
    else out.rows.push(row)
  })
  const split = splitOfFileName(reference ?? file)
  if (split) out.fileSplit = split
  if (refs) out.reference = {file: refs.file, sha256: refs.sha256, records: refs.records.length}
  return out
}

/** An exported data file: JSONL, or a JSON array (LLaVA). */
async function readReference(file: string): Promise<{file: string; sha256: string; bytes: number; records: unknown[]}> {
  const {text, sha256, bytes} = await readText(file)
  if (text.trimStart().startsWith('[')) {
    try {
      return {file, sha256, bytes, records: JSON.parse(text) as unknown[]}
    } catch (error) {
      throw new GetokError(`invalid JSON (${(error as Error).message})`, {file})
    }
  }
  return {file, sha256, bytes, records: parseJsonl<unknown>(text, file).map((r) => r.value)}
}

async function readText(file: string): Promise<{text: string; sha256: string; bytes: number}> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    throw new GetokError(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? error})`, {file})
  }
  return {text: utf8Text(bytes, file), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length}
}

/** `getok export` names its files <format>-<split>.jsonl (llava: .json). */
export function splitOfFileName(file: string): string | undefined {
  return path.basename(file).match(/^(?:swift|llamafactory|llava|qwen)-(.+)\.jsonl?$/)?.[1]
}
