/** Progress of long work: count, rate and ETA on a terminal; nothing otherwise. */
export interface Progress {
  start(total: number, alreadyDone: number): void
  tick(done: number, note?: string): void
  end(): void
}

export const silentProgress: Progress = {start() {}, tick() {}, end() {}}

export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let total = 0
  let startDone = 0
  let startedAt = 0
  let last = 0
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
    },
    end() {
      stream.write('\n')
    },
  }
}
