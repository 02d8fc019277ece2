/** Progress of long work: count, rate and ETA on a terminal; nothing otherwise. */
export interface Progress {
  start(total: number, alreadyDone: number): void
  tick(done: number, note?: string): void
  end(): void
  /**
   * the run stops before end(), or a warning is printed: finish a line left on the terminal, so that what is
   * printed next starts a line of its own
   */
  interrupt?(): void
}

export const silentProgress: Progress = {start() {}, tick() {}, end() {}}

/** What a progress was last told: `total` units, `done` of them (those an earlier run had finished included). */
export interface ProgressCount {
  total: number
  done: number
}

/** `inner` as it is, and what it was last told (`count()`: undefined before start), whether shown or not (--json, no terminal). */
export function countedProgress(inner: Progress): Progress & {count(): ProgressCount | undefined} {
  let counted: ProgressCount | undefined
  return {
    start(total, alreadyDone) {
      counted = {total, done: alreadyDone}
      inner.start(total, alreadyDone)
    },
    tick(done, note) {
      if (counted) counted.done = done
      inner.tick(done, note)
    },
    end: () => inner.end(),
    interrupt: () => inner.interrupt?.(),
    count: () => counted && {...counted},
  }
}

export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let total = 0
  let startDone = 0
  let startedAt = 0
  let last = 0
  // a line is on the terminal without its newline
  let open = false
  const fmt = (s: number) => {
    if (!Number.isFinite(s)) return '?'
    const h = Math.floor(s / 3600)
    const m = Math.floor((s % 3600) / 60)
    const sec = Math.round(s % 60)
    return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
  }
  return {
    start(t, already) {
      total = t
      startDone = already
      startedAt = Date.now()
    },
    tick(done, note) {
      const now = Date.now()
      if (now - last < 200 && done < total) return
      last = now
      const elapsed = (now - startedAt) / 1000
      const rate = (done - startDone) / Math.max(elapsed, 1e-3)
      const eta = rate > 0 ? (total - done) / rate : Number.NaN
      const width = 24
      const filled = Math.round((width * done) / Math.max(total, 1))
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ` +
          `${rate.toFixed(2)}/s ETA ${fmt(eta)}${note ? `  ${note}` : ''}\x1b[K`,
      )
      open = true
    },
    end() {
      stream.write('\n')
      open = false
    },
    interrupt() {
      if (open) stream.write('\n')
      open = false
    },
  }
}
