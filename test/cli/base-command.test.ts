import {describe, expect, it} from 'vitest'

import {count, resumedNote} from '../../src/cli/base-command.js'

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
})
