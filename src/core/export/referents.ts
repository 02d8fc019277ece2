/**
 * Who a conversation refers to, and by which words: each referring expression whose annotation was
 * curated (refs pickle or JSONL), or, without expressions, "the <category>" for objects alone in
 * their category in their image (the rest skipped with the reason).
 */
import {fillTemplate, pickVariant} from './templates.js'
import type {BuildOptions, CuratedObject, ExportSkip, ExpressionOrigin, ExpressionStats} from './conversations.js'

/** A curated object and how one conversation refers to it. */
export interface Referent {
  object: CuratedObject
  expression: string
  source: ExpressionOrigin
  split: string
  /** distinguishes several expressions of one object in ids */
  key: string
}

export function referentsFromExpressions(
  curated: readonly CuratedObject[],
  ex: NonNullable<BuildOptions['expressions']>,
  o: BuildOptions,
): {referents: Referent[]; stats: ExpressionStats} {
  const byAnn = new Map(curated.map((c) => [c.annId, c]))
  const stats: ExpressionStats = {
    source: ex.source,
    total: ex.entries.length,
    matched: 0,
    not_curated: 0,
    image_mismatch: 0,
    objects_without_expression: 0,
  }
  const referents: Referent[] = []
  const seen = new Map<number, number>()
  for (const e of ex.entries) {
    const object = byAnn.get(e.annId)
    if (!object) {
      stats.not_curated++
      continue
    }
    if (e.imageId !== undefined && e.imageId !== object.imageId) {
      stats.image_mismatch++
      continue
    }
    stats.matched++
    const k = seen.get(e.annId) ?? 0
    seen.set(e.annId, k + 1)
    referents.push({
      object,
      expression: e.expression,
      source: ex.source,
      split: e.split ?? o.defaultSplit,
      key: e.sentId !== undefined ? `s${e.sentId}` : `e${k}`,
    })
  }
  stats.objects_without_expression = curated.filter((c) => !seen.has(c.annId)).length
  return {referents, stats}
}

export function referentsFromCategories(
  curated: readonly CuratedObject[],
  o: BuildOptions,
  skips: ExportSkip[],
): {referents: Referent[]; stats: ExpressionStats} {
  const counts = categoryCounts(curated)
  const referents: Referent[] = []
  for (const object of curated) {
    const n = counts.get(`${object.imageId}\u0000${object.category}`) ?? 0
    const reason = o.uncertainImages.has(object.imageId)
      ? `category name may be ambiguous: curate skipped annotations of image ${object.imageId}, whose categories are unknown here`
      : n > 1
        ? `ambiguous category: ${n} curated "${object.category}" objects in the image`
        : null
    if (reason) {
      skips.push({image_id: object.imageId, ann_id: object.annId, reason})
      continue
    }
    const expression = fillTemplate(pickVariant(o.templates.prompts.category_expression, String(object.annId)), {category: object.category})
    referents.push({object, expression, source: 'category', split: o.defaultSplit, key: 'c'})
  }
  const stats: ExpressionStats = {
    source: 'category',
    total: referents.length,
    matched: referents.length,
    not_curated: 0,
    image_mismatch: 0,
    objects_without_expression: curated.length - referents.length,
  }
  return {referents, stats}
}

function categoryCounts(curated: readonly CuratedObject[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const c of curated) counts.set(`${c.imageId}\u0000${c.category}`, (counts.get(`${c.imageId}\u0000${c.category}`) ?? 0) + 1)
  return counts
}

/** The splits of each image's referring expressions (category fallbacks carry none). */
export function imageSplits(referents: readonly Referent[]): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>()
  for (const r of referents) {
    if (r.source === 'category') continue
    const set = out.get(r.object.imageId) ?? new Set<string>()
    set.add(r.split)
    out.set(r.object.imageId, set)
  }
  return out
}
