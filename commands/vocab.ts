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
  /** without -o: the tokens in vocabulary order (with --json, the only place they go) */
  tokens?: string[]
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
    '<%= config.bin %> vocab --grid 16 --json | jq -r ".tokens[]"',
  ]
  static flags = {grid: inputFlags.grid, 'token-style': inputFlags['token-style'], 'flip-v': offsetsFlags['flip-v'], ...vocabFlags}

  async run(): Promise<VocabResult> {
    const {flags} = await this.parse(Vocab)
    const options = {n: flags.grid, style: flags['token-style'], tags: flags.tags, flipV: flags['flip-v']}
    const text = formatVocabulary(flags.format, options)
    const entries = vocabularyEntries(options)
    const count = entries.length
    const result = {grid: flags.grid, token_style: flags['token-style'], format: flags.format, tags: flags.tags, count}
    if (flags.out) {
      checkOutFile(flags.out)
      await writeFileAtomic(flags.out, text)
      this.log(`${count} tokens (n = ${flags.grid}, ${flags['token-style']}, ${flags.format}) → ${flags.out}`)
      return {...result, out: flags.out}
    }
    // with --json stdout holds the result alone: the tokens go in it (they went nowhere before)
    if (!this.jsonEnabled()) process.stdout.write(text)
    return {...result, out: null, tokens: entries.map((e) => e.token)}
  }
}
