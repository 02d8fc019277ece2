import {describe, expect, it} from 'vitest'
import {oneLine} from '../../src/cli/base-command.js'
import {interruptedText} from '../../src/cli/interrupt.js'
import {countedProgress, silentProgress, terminalProgress} from '../../src/pipeline/shared/progress.js'

describe('the line of an interrupted run', () => {
  it.each([
    ['resume', {total: 8, done: 3}, 'interrupted (SIGINT): 3 of 8 images finished are kept; rerun the same command to resume'],
    ['resume', {total: 1, done: 0}, 'interrupted (SIGINT): 0 of 1 image finished are kept; rerun the same command to resume'],
    ['resume', undefined, 'interrupted (SIGINT) before any image was processed; rerun the same command to resume'],
    [
      'rerun',
      {total: 8, done: 3},
      'interrupted (SIGINT): the output is incomplete (no file in it is half-written); rerun the same command',
    ],
  ] as const)('%s, %j', (kind, progress, text) => {
    expect(interruptedText(kind, 'SIGINT', progress)).toBe(text)
  })
})

describe('countedProgress: what a run has done, shown or not', () => {
  it('counts from start (images finished earlier included) through each tick', () => {
    const p = countedProgress(silentProgress)
    expect(p.count()).toBeUndefined()
    p.start(8, 2)
    expect(p.count()).toEqual({total: 8, done: 2})
    p.tick(3)
    p.tick(4)
    expect(p.count()).toEqual({total: 8, done: 4})
  })

  it("ends the terminal's progress line on interrupt, and writes nothing when none is shown", () => {
    let written = ''
    const stream = {write: (s: string) => ((written += s), true)} as unknown as NodeJS.WriteStream
    const p = countedProgress(terminalProgress('curate', stream))
    p.start(8, 0)
    p.interrupt!()
    expect(written).toBe('')
    p.tick(1)
    expect(written).toMatch(/^\rcurate \[###\.+\] 1\/8 .*\[K$/)
    p.interrupt!()
    expect(written.endsWith('\x1b[K\n')).toBe(true)
    p.interrupt!()
    expect(written.endsWith('\x1b[K\n')).toBe(true)
  })
})

describe('oneLine: an unexpected error as one line', () => {
  it.each([
    ['EIO: i/o error, write', 'EIO: i/o error, write'],
    [
      'curate worker 0 (pid 7) failed on image 9: boom\n    at f (x.js:1:2)\n',
      'curate worker 0 (pid 7) failed on image 9: boom at f (x.js:1:2)',
    ],
  ])('%j', (message, line) => expect(oneLine(message)).toBe(line))
})
