import {GetokCommand} from '../src/cli/base-command.js'
import {inputFlags, offsetsFlags, vocabFlags} from '../src/cli/flags.js'
import {writeFileAtomic} from '../src/adapters/shards.js'
import {checkOutFile} from '../src/pipeline/shared/out-files.js'
import {formatVocabulary, vocabularyEntries} from '../src/core/grid/vocab.js'

export interface VocabResult {
  grid: number
  token_style: string
  format: string
  tags: boolean
  count: number
  out: string | null
}

export default class Vocab extends GetokCommand {
  static summary = 'Write the GETok vocabulary (grid, offset and DELETE tokens) in the form a trainer reads.'
  static description =
    'n·n grid tokens in raster order, the 9 offsets and <DELETE> (1034 tokens at n = 32), optionally the 8 structure tags. ' +
    'list feeds ms-swift --new_special_tokens; llamafactory is a new_special_tokens_config YAML with one ' +
    'description per token. See docs/export.md.'
  static examples = [
    '<%= config.bin %> vocab --grid 32 -o vocab.txt',
    '<%= config.bin %> vocab --grid 32 --format llamafactory --tags -o getok_tokens.yaml',
    '<%= config.bin %> vocab --grid 16 --token-style paper --format json',
  ]
  static flags = {grid: inputFlags.grid, 'token-style': inputFlags['token-style'], 'flip-v': offsetsFlags['flip-v'], ...vocabFlags}

  async run(): Promise<VocabResult> {
    const {flags} = await this.parse(Vocab)
    const options = {n: flags.grid, style: flags['token-style'], tags: flags.tags, flipV: flags['flip-v']}
    const text = formatVocabulary(flags.format, options)
    const count = vocabularyEntries(options).length
    if (flags.out) {
      checkOutFile(flags.out)
      await writeFileAtomic(flags.out, text)
      this.log(`${count} tokens (n = ${flags.grid}, ${flags['token-style']}, ${flags.format}) → ${flags.out}`)
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text)
    }
    return {grid: flags.grid, token_style: flags['token-style'], format: flags.format, tags: flags.tags, count, out: flags.out ?? null}
  }
}
