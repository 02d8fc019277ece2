/** Summary statistics for curated records. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** COCO's size classes by object area in pixels: small < 32², medium < 96², large otherwise. */
export type SizeClass = 'small' | 'medium' | 'large'
export function sizeClass(area: number): SizeClass {
  return area < 32 * 32 ? 'small' : area < 96 * 96 ? 'medium' : 'large'
}

export interface CurateSummary {
  records: number
  mean_tokens: number
  median_tokens: number
  mean_iou: number
  reached_share: number
  skipped: number
  skip_reasons: Record<string, number>
  by_size: Record<SizeClass, {records: number; mean_tokens: number; mean_iou: number; reached_share: number}>
}

export interface RecordLike {
  tokens: number
  iou: number
  reached: boolean
  area: number
}

/** Collapse ids out of reasons so that equal causes count together. */
export function reasonKey(reason: string): string {
  return reason.replace(/\d+(\.\d+)?/g, 'N')
}

/** How many skips each reason has, ids collapsed (reasonKey). */
export function countReasons(skips: readonly {reason: string}[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const s of skips) counts[reasonKey(s.reason)] = (counts[reasonKey(s.reason)] ?? 0) + 1
  return counts
}

/** What the curate summary reads of a record: the one projection, for runs and merges alike. */
export function curateSummaryFields(r: RecordLike): RecordLike {
  return {tokens: r.tokens, iou: r.iou, reached: r.reached, area: r.area}
}

export function summarise(records: readonly RecordLike[], skips: readonly {reason: string}[]): CurateSummary {
  const part = (rs: readonly RecordLike[]) => ({
    records: rs.length,
    mean_tokens: round(mean(rs.map((r) => r.tokens))),
    mean_iou: round(mean(rs.map((r) => r.iou))),
    reached_share: round(rs.length === 0 ? 0 : rs.filter((r) => r.reached).length / rs.length),
  })
  const skipReasons = countReasons(skips)
  const whole = part(records)
  return {
    records: whole.records,
    mean_tokens: whole.mean_tokens,
    median_tokens: median(records.map((r) => r.tokens)),
    mean_iou: whole.mean_iou,
    reached_share: whole.reached_share,
    skipped: skips.length,
    skip_reasons: skipReasons,
    by_size: {
      small: part(records.filter((r) => sizeClass(r.area) === 'small')),
      medium: part(records.filter((r) => sizeClass(r.area) === 'medium')),
      large: part(records.filter((r) => sizeClass(r.area) === 'large')),
    },
  }
}

const round = (v: number) => Math.round(v * 10000) / 10000
