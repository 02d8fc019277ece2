/**
 * What GET /stats reports about the HTTP side: requests, answers by status, and the latency of
 * POST /score over its last LATENCY_WINDOW requests (p50/p90/p99, nearest rank: the smallest value
 * with at least p% of the values at or below it).
 */
const LATENCY_WINDOW = 10_000

export interface LatencySummary {
  count: number
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
}

export class HttpStats {
  readonly started = Date.now()
  requests = 0
  /** requests whose client left before the answer: in no status, not an error */
  aborted = 0
  /** answers by status code */
  readonly status: Record<string, number> = {}
  private readonly latencies = new Float64Array(LATENCY_WINDOW)
  private recorded = 0

  answered(status: number): void {
    this.status[status] = (this.status[status] ?? 0) + 1
  }

  scoreLatency(ms: number): void {
    this.latencies[this.recorded % LATENCY_WINDOW] = ms
    this.recorded++
  }

  /** Answers with a status of 400 or more. */
  get errors(): number {
    return Object.entries(this.status).reduce((sum, [code, n]) => sum + (Number(code) >= 400 ? n : 0), 0)
  }

  latency(): LatencySummary {
    const values = Array.from(this.latencies.subarray(0, Math.min(this.recorded, LATENCY_WINDOW))).sort((a, b) => a - b)
    const at = (p: number) => (values.length === 0 ? null : round3(percentile(values, p)))
    return {count: values.length, p50: at(50), p90: at(90), p99: at(99), max: at(100)}
  }
}

/** Nearest-rank percentile of ascending values (p in (0, 100]). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values')
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

const round3 = (v: number) => Math.round(v * 1000) / 1000
