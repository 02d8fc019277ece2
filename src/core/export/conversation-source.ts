/**
 * Conversations made one at a time, as often as asked: a COCO-sized export makes millions (about
 * 3 KB each), so export builds them once to check and count, then again for each split's file, and
 * never holds them. A source keeps what making them needs, all of it small beside the curated records
 * it points into: the referents (an object and its words, made up front because who is ambiguous and
 * the expression counts need every record), the offsets records by annotation, the "all the X" groups.
 * Pure: no files.
 */
import {
  type BuildOptions,
  type Conversation,
  type CuratedObject,
  type ExportSkip,
  type ExpressionStats,
  type RefinementObject,
  type TaskName,
  refineConversation,
  singleConversation,
} from './conversations.js'
import {multiConversation, multiGroups, multiSplit} from './multi.js'
import {type Referent, imageSplits, referentsFromCategories, referentsFromExpressions} from './referents.js'

/** What building yields, in order: a conversation, or the skip of one that was not made. */
export type Built = Conversation | ExportSkip

export function isSkip(b: Built): b is ExportSkip {
  return 'reason' in b
}

export interface ConversationSource {
  expressions: ExpressionStats
  /** objects no conversation can refer to (ambiguous categories): decided up front, so they come first */
  skips: readonly ExportSkip[]
  /** what one whole build yields, conversations and skips: a progress total */
  size: number
  /**
   * Every conversation and skip, built afresh in the same order at each call. With `split`, only that
   * split's conversations: the others are passed over before they are built, their skips with them.
   */
  build(split?: string): Generator<Built>
}

export function conversationSource(
  curated: readonly CuratedObject[],
  refinements: readonly RefinementObject[] | null,
  o: BuildOptions,
): ConversationSource {
  const skips: ExportSkip[] = []
  const {referents, stats} = o.expressions
    ? referentsFromExpressions(curated, o.expressions, o)
    : referentsFromCategories(curated, o, skips)
  const byAnn = new Map((refinements ?? []).map((r) => [r.annId, r]))
  const tasks = o.tasks.filter((t): t is Exclude<TaskName, 'multi'> => t !== 'multi')
  const groups = o.tasks.includes('multi') ? multiGroups(curated) : []
  const splits = groups.length > 0 ? imageSplits(referents) : new Map<number, Set<string>>()

  function* build(split?: string): Generator<Built> {
    for (const ref of referents) {
      if (split !== undefined && ref.split !== split) continue
      for (const task of tasks) yield referentTask(ref, task, byAnn, o)
    }
    for (const members of groups) {
      const imageSplit = splits.get(members[0].imageId)
      if (split !== undefined && multiSplit(imageSplit, o) !== split) continue
      const c = multiConversation(members, imageSplit, o)
      yield typeof c === 'string' ? {image_id: members[0].imageId, task: 'multi', reason: c} : c
    }
  }
  return {expressions: stats, skips, size: referents.length * tasks.length + groups.length, build}
}

function referentTask(
  ref: Referent,
  task: Exclude<TaskName, 'multi'>,
  refinements: ReadonlyMap<number, RefinementObject>,
  o: BuildOptions,
): Built {
  const c = task === 'refine' ? refineConversation(ref, refinements.get(ref.object.annId), o) : singleConversation(task, ref, o)
  return typeof c === 'string' ? {image_id: ref.object.imageId, ann_id: ref.object.annId, task, reason: c} : c
}

export interface BuildResult {
  conversations: Conversation[]
  skips: ExportSkip[]
  expressions: ExpressionStats
}

/** Every conversation at once, for small inputs (tests, a few records); export streams a source instead. */
export function buildConversations(
  curated: readonly CuratedObject[],
  refinements: readonly RefinementObject[] | null,
  o: BuildOptions,
): BuildResult {
  const source = conversationSource(curated, refinements, o)
  const out: BuildResult = {conversations: [], skips: [...source.skips], expressions: source.expressions}
  for (const b of source.build()) {
    if (isSkip(b)) out.skips.push(b)
    else out.conversations.push(b)
  }
  return out
}
