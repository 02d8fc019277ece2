import {fileURLToPath} from 'node:url'
import {describe, expect, it, vi} from 'vitest'

import {GetokCommand, count, reasonLines, resumedNote} from '../../src/cli/base-command.js'
import {showValue} from '../../src/core/errors.js'

describe('summary wording', () => {
  it.each([
    [0, 'image', '0 images'],
    [1, 'image', '1 image'],
    [2, 'record', '2 records'],
    [1, 'skipped object', '1 skipped object'],
    [12, 'ms-swift record', '12 ms-swift records'],
  ])('count(%i, %s) reads "%s"', (n, noun, text) => {
    expect(count(n, noun)).toBe(text)
  })

  it.each([
    [{images: 4, resumed: 0}, ''],
    [{images: 4, resumed: 4}, ' (all finished earlier: nothing redone)'],
    [{images: 4, resumed: 3}, ' (3 finished earlier, resumed)'],
  ])('resumedNote(%o) reads "%s"', (result, text) => {
    expect(resumedNote(result)).toBe(text)
  })

  it.each([
    [{}, ''],
    [{no_mask: 2}, '\n  2 × no_mask'],
    [{no_mask: 2, crowd: 1}, '\n  2 × no_mask\n  1 × crowd'],
  ])('reasonLines(%o) reads %j', (reasons, text) => {
    expect(reasonLines(reasons)).toBe(text)
  })
})

describe('showValue: a bad value as its type reads', () => {
  it.each([
    ['162.47', '"162.47"'], // a string: quoted (a polygon coordinate message showed 162.47 before)
    [162.47, '162.47'],
    [Infinity, 'Infinity'], // "width": 1e400 parses to Infinity; JSON would write null
    [-Infinity, '-Infinity'],
    [NaN, 'NaN'],
    [[1, Infinity, 'x'], '[1,Infinity,"x"]'],
    [{w: NaN}, '{"w":NaN}'],
    [null, 'null'],
    [undefined, 'undefined'],
    ['a'.repeat(100), `"${'a'.repeat(76)}...`],
  ])('%s → %s', (value, text) => {
    expect(showValue(value)).toBe(text)
  })
})

describe('a warning while a progress line is on the terminal', () => {
  class Reads extends GetokCommand {
    async run(): Promise<void> {
      await this.parse(Reads)
      const progress = this.progress('export')
      progress.start(2, 0)
      progress.tick(1, 'shards read')
      this.warning('/data/cur/curate-00000-of-00002.jsonl: not the bytes its manifest lists')
      progress.tick(2, 'shards read')
      progress.end()
    }
  }

  it('finishes the progress line first: the warning is a line of its own, and the count goes on below it', async () => {
    const tty = process.stderr.isTTY
    let written = ''
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((written += String(chunk)), true))
    try {
      process.stderr.isTTY = true
      await Reads.run([], fileURLToPath(new URL('../..', import.meta.url)))
    } finally {
      write.mockRestore()
      process.stderr.isTTY = tty
    }
    const lines = written.split('\n')
    expect(lines[0]).toMatch(/^\rexport \[#+\.+\] 1\/2 .*shards read/)
    expect(lines[1]).toBe('warning: /data/cur/curate-00000-of-00002.jsonl: not the bytes its manifest lists')
    expect(lines[2]).toMatch(/^\rexport \[#+\] 2\/2 /)
  })
})
