/** "all the X": every image with two or more curated objects of a category, all of them in the answer. */
import {sortCellsRaster} from '../grid/grid.js'
import {joinGroups} from '../grid/tokens.js'
import {ruleAnswer} from './box-rule.js'
import {type BuildOptions, type Conversation, type CuratedObject, type Turn, answer, ask, boxOffsetsTurn} from './conversations.js'
import {pluralCategory} from './templates.js'

/**
 * The objects of each image and category that has two or more, in the order their first object was
 * curated. A group needs all of its image's objects of its category, wherever they are in the input,
 * so the groups (references to the curated records, never conversations) are made up front and kept.
 */
export function multiGroups(curated: readonly CuratedObject[]): CuratedObject[][] {
  const groups = new Map<string, CuratedObject[]>()
  for (const c of curated) {
    const key = `${c.imageId}\u0000${c.category}`
    const members = groups.get(key)
    if (members) members.push(c)
    else groups.set(key, [c])
  }
  return [...groups.values()].filter((members) => members.length > 1)
}

/** The split of an image's "all the X": its expressions' one split, else the default (several: skipped). */
export function multiSplit(splits: ReadonlySet<string> | undefined, o: Pick<BuildOptions, 'defaultSplit'>): string {
  return splits ? [...splits][0] : o.defaultSplit
}

/** `splits`: the splits of the image's expressions; a string is the reason no conversation was made. */
export function multiConversation(
  members: CuratedObject[],
  splits: ReadonlySet<string> | undefined,
  o: BuildOptions,
): Conversation | string {
  const first = members[0]
  if (o.uncertainImages.has(first.imageId))
    return `"all the ${pluralCategory(first.category)}" may be incomplete: curate skipped annotations of this image`
  const low = members.find((m) => m.iou < o.minIou)
  if (low) return `"${first.category}" annotation ${low.annId}: curated IoU ${low.iou} below --min-iou ${o.minIou}`
  if (splits && splits.size > 1) return `the image's expressions are in several splits (${[...splits].sort().join(', ')})`
  const ordered = [...members].sort((a, b) => rasterKey(a, o.grid) - rasterKey(b, o.grid) || a.annId - b.annId)
  const id = `${first.imageId}_${first.category.replace(/\s+/g, '-')}_multi`
  const v = {category: first.category, categories: pluralCategory(first.category)}
  const turns: Turn[] = [{user: ask(o, 'multi', id, v), assistant: answer(o, 'multi', joinGroups(ordered.map(ruleAnswer))), train: true}]
  if (ordered.every((m) => m.boxOffsets !== undefined)) turns.push(boxOffsetsTurn(o, id, v, joinGroups(ordered.map((m) => m.boxOffsets!))))
  return {
    id,
    task: 'multi',
    split: multiSplit(splits, o),
    image: first.image,
    imageId: first.imageId,
    annIds: ordered.map((m) => m.annId),
    expression: `all the ${v.categories}`,
    expressionSource: 'category',
    turns,
  }
}

/** Instances are listed in reading order of their first (raster-order) point. */
function rasterKey(c: CuratedObject, n: number): number {
  const [i, j] = sortCellsRaster(c.points, n)[0] ?? [n, n]
  return j * n + i
}
