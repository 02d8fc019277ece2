import {Args} from '@oclif/core'
import {count, GetokCommand} from '../src/cli/base-command.js'
import {mergeFlags} from '../src/cli/flags.js'
import {type MergeResult, runMerge} from '../src/pipeline/merge/merge-run.js'

export default class Merge extends GetokCommand {
  static interrupt = 'rerun' as const
  static summary = 'Join the output folders of the workers of a sharded run into one folder and one manifest.'
  static description =
    "Checks every manifest, each shard's sha256 and record count, that all workers 0 … N−1 are there " +
    'and that they ran the same configuration and model, ' +
    'and refuses duplicate image or annotation ids. Copies the shards and writes one manifest.json with the statistics of all records.'
  static examples = ['<%= config.bin %> merge out/w0 out/w1 out/w2 --out out/all', '<%= config.bin %> merge out/w* -o out/all --json']
  static strict = false
  static args = {dirs: Args.string({description: 'Output folders of the workers (each with its manifest.json).', required: true})}
  static flags = mergeFlags

  async run(): Promise<MergeResult> {
    const {argv, flags} = await this.parse(Merge)
    const result = await runMerge({dirs: argv as string[], out: flags.out, overwrite: flags.overwrite, progress: this.progress('merge')})
    this.log(
      `${count(result.records, 'record')} from ${count(result.workers, 'folder')} (${count(result.shards, 'shard')}) → ${result.out}; ` +
        `${count(result.skipped, 'skipped object')}`,
    )
    return result
  }
}
