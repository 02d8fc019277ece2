/**
 * One record (curate or offsets) or one model answer → one picture: decode the
 * tokens with SAM under the record's rule (SPEC §4, §8: offsets applied,
 * deletions dropped; union: a mask per point, united; box: one prompt of the
 * moved box and the points), measure IoU with the ground truth when there is
 * one, and draw. Dependencies come in as arguments.
 */
import {type Cell, type GridFrame, cellToAnchor} from '../../core/grid/grid.js'
import {type DecodeRule, type TokenAnswer, answerBoxCorners} from '../../core/decode/prompts.js'
import {unionIou} from '../../core/selection/greedy.js'
import type {Mask} from '../../core/masks/mask.js'
import type {MaskPolicy} from '../../core/selection/policy.js'
import type {CropMask} from '../../core/masks/crop-mask.js'
import {type OffsetTarget, type TokenGroup, parseTokens} from '../../core/grid/tokens.js'
import type {GridMark, Picture, PromptBox} from '../../core/draw/draw.js'
import {cropMasksToMask} from '../../core/masks/crop-mask.js'
import {pairRefinement, parseAnswer, parseRefinement} from '../../core/eval/answer.js'
import {GetokError} from '../../core/errors.js'
import type {LoadedImage} from '../../adapters/images.js'
import {type RenderOptions, type RenderedPicture, renderPicture} from '../../adapters/render.js'
import type {ImageEmbedding, ModelIdentity, SamEngine} from '../../sam/engine.js'
import {decodeAnswer} from '../decode/decode.js'
import type {InspectRecord} from './inspect-records.js'

/** One image, ready to draw on: the photo and its SAM embedding (computed once, shared by its records). */
export interface PreparedPhoto {
  photo: LoadedImage
  embedding: ImageEmbedding
}

export interface DrawContext {
  engine: SamEngine
  render: RenderOptions
}

export interface RenderResult {
  picture: RenderedPicture
  /** IoU of the decoded mask with the ground truth; absent without one */
  iou?: number
  tokens: number
  /** the union of the decoded masks, image size */
  decoded: Mask
}

/** What the tokens say, in drawable form: grid marks and the groups to decode into a mask. */
export interface Answer {
  marks: GridMark[]
  boxes: [Cell, Cell][]
  polylines: Cell[][]
  /** the decode rule: the record's, or for an answer the one asked for or its shape's */
  rule: DecodeRule
  /** decoding inputs, one per seg group (or the record's single token set); under `box` each with its box */
  decode: TokenAnswer[]
}

/** A record's token set as an answer: its points are one seg group, with its box under the box rule. */
export function recordToAnswer(record: InspectRecord): Answer {
  const marks = record.cells.map((cell, k) => ({cell, offset: record.offsets?.[k]}))
  const input: TokenAnswer = {cells: record.cells, offsets: record.offsets}
  const boxed = record.rule === 'box' ? {box: record.box, boxMoves: record.boxMoves} : {}
  return {marks, boxes: [], polylines: [], rule: record.rule, decode: [{...input, ...boxed}]}
}

/**
 * A model answer (and optionally its offset round) as drawable groups, decoded under `rule`. Without
 * one, an answer shaped as the box rule writes it (a <box> and a <seg> for every object) takes the box
 * rule, any other the union rule. Offset groups pair with grid groups in order, whether they come in
 * `tokens` after the grid groups or in `offsets`; each pair must have one offset per grid token.
 */
export function tokensToAnswer(tokens: string, offsets: string | undefined, n: number, rule?: DecodeRule): Answer {
  const groups = parseTokens(tokens, n) // a bad string fails here, with its character position
  if ((rule ?? answerRule(tokens, n)) === 'box') return boxRuleAnswer(tokens, offsets, n)
  const gridGroups = groups.filter((g) => g.offsets === undefined)
  const offsetGroups = [...groups.filter((g) => g.offsets !== undefined), ...(offsets ? parseTokens(offsets, n) : [])]
  if (offsetGroups.some((g) => g.offsets === undefined)) {
    throw new GetokError('the offsets string holds grid tokens; it must be <offset>…</offset> groups only', {field: '--offsets'})
  }
  if (offsetGroups.length > 0 && offsetGroups.length !== gridGroups.length) {
    throw new GetokError(
      'offset groups do not pair with grid groups',
      {field: '--offsets'},
      `${gridGroups.length} offset group(s)`,
      String(offsetGroups.length),
    )
  }
  const answer: Answer = {marks: [], boxes: [], polylines: [], rule: 'union', decode: []}
  gridGroups.forEach((g, k) => addGroup(answer, g, offsetGroups[k]?.offsets, k))
  return answer
}

/** The rule an answer's shape asks for: box when each object writes a <box> and a <seg> (what box-rule data teaches). */
export function answerRule(tokens: string, n: number): DecodeRule {
  const parsed = parseAnswer(tokens, n)
  return parsed.ok && parsed.value.objects.every((o) => o.box && o.seg) ? 'box' : 'union'
}

/** A box-rule answer as eval reads it: one prompt per object, its box (moved by the box offsets) and its points. */
function boxRuleAnswer(tokens: string, offsets: string | undefined, n: number): Answer {
  const parsed = parseAnswer(tokens, n)
  if (!parsed.ok) throw new GetokError(parsed.detail, {field: '--tokens'})
  const {objects} = parsed.value
  if (!objects.every((o) => o.box))
    throw new GetokError('the box decode rule needs a <box> for every object of the answer', {field: '--tokens'}, '<box>…</box>')
  const refinement = offsets !== undefined ? parseRefinement(offsets, n) : {ok: true as const, value: parsed.value.inlineRefinement}
  if (!refinement.ok) throw new GetokError(refinement.detail, {field: '--offsets'})
  const paired = refinement.value ? pairRefinement(objects, refinement.value) : {ok: true as const, value: undefined}
  if (!paired.ok) throw new GetokError(paired.detail, {field: '--offsets'})
  const answer: Answer = {marks: [], boxes: [], polylines: [], rule: 'box', decode: []}
  objects.forEach((o, k) => {
    const moved = paired.value?.[k]
    // a refinement of the box alone leaves the points where they are
    const pointOffsets = moved && moved.offsets.length > 0 ? moved.offsets : undefined
    o.cells.forEach((cell, c) => answer.marks.push({cell, offset: pointOffsets?.[c]}))
    answer.decode.push({cells: o.cells, offsets: pointOffsets, box: o.box, boxMoves: moved?.boxMoves})
  })
  return answer
}

function addGroup(answer: Answer, group: TokenGroup, offsets: OffsetTarget[] | undefined, index: number): void {
  if (offsets && offsets.length !== group.cells.length) {
    throw new GetokError(
      `group ${index + 1} (<${group.kind}>): offsets must pair one to one with its grid tokens`,
      {field: '--offsets'},
      `${group.cells.length} offset token(s)`,
      String(offsets.length),
    )
  }
  group.cells.forEach((cell, k) => answer.marks.push({cell, offset: offsets?.[k]}))
  if (group.kind === 'seg') answer.decode.push({cells: group.cells, offsets})
  if (group.kind === 'box') answer.boxes.push([group.cells[0], group.cells[1]])
  if (group.kind === 'pl') answer.polylines.push(group.cells)
}

export interface CaptionFacts {
  iou?: number
  tokens: number
  /** points marked <DELETE> */
  deleted: number
  /** a narrow picture (contact sheet tile): short lines, no settings line */
  compact: boolean
}

/** Pictures narrower than this get the compact caption. */
const COMPACT_BELOW = 400

export interface DecodeSettings {
  grid: GridFrame
  policy: MaskPolicy
  flipV: boolean
  gt?: Mask
}

/** Decode the answer's seg groups, compare with the ground truth, draw. */
export async function renderAnswer(
  prepared: PreparedPhoto,
  answer: Answer,
  settings: DecodeSettings,
  ctx: DrawContext,
  caption: (result: CaptionFacts) => string[],
): Promise<RenderResult> {
  const {grid, policy, flipV, gt} = settings
  const masks: CropMask[] = []
  for (const input of answer.decode) {
    masks.push(...(await decodeAnswer(ctx.engine, prepared.embedding, answer.rule, {...input, flipV}, grid, policy)))
  }
  const decoded = cropMasksToMask(masks, grid.width, grid.height)
  const iou = gt ? unionIou(gt, masks) : undefined
  const tokens = answer.marks.length
  const deleted = answer.marks.filter((m) => m.offset === 'delete').length
  const picture: Picture = {
    grid,
    flipV,
    marks: answer.marks,
    boxes: answer.boxes,
    polylines: answer.polylines,
    ...(answer.rule === 'box' ? {promptBoxes: promptBoxes(answer.decode, grid, flipV)} : {}),
    decoded: answer.decode.length > 0 ? decoded : undefined,
    gt,
    caption: caption({iou, tokens, deleted, compact: ctx.render.longSide < COMPACT_BELOW}),
  }
  const rendered = await renderPicture(prepared.photo, picture, ctx.render)
  return {picture: rendered, iou, tokens, decoded}
}

/** What the box rule gave SAM for each boxed input: the moved corners, and the anchors they moved from. */
export function promptBoxes(inputs: readonly TokenAnswer[], grid: GridFrame, flipV: boolean): PromptBox[] {
  return inputs
    .filter((a) => a.box)
    .map((a) => ({
      anchors: [cellToAnchor(a.box![0][0], a.box![0][1], grid), cellToAnchor(a.box![1][0], a.box![1][1], grid)],
      corners: answerBoxCorners(a.box!, a.boxMoves, grid, flipV),
    }))
}

// ---- captions ----------------------------------------------------------------

const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`
const iouText = (v: number) => v.toFixed(4)

/** Caption of a record's picture: who it is, what it holds, how well it decodes, with what. */
export function recordCaption(record: InspectRecord, result: CaptionFacts, model: ModelIdentity, policy: MaskPolicy): string[] {
  const ann = record.annId !== undefined && `ann ${record.annId}`
  const image = `image ${record.imageId ?? record.image}`
  const measured = result.iou !== undefined ? `IoU ${iouText(result.iou)}` : 'no ground truth'
  const claimed = record.iou !== undefined && `record ${iouText(record.iou)}`
  const quality =
    record.kind === 'offsets'
      ? `after offsets ${measured}`
      : result.iou !== undefined
        ? measured + (claimed ? ` (${claimed})` : '')
        : join([claimed, measured + (result.compact ? '' : ' (give --annotations)')])
  const unit = plural(result.tokens, record.kind === 'offsets' ? 'point' : 'token') + (record.rule === 'box' ? ' + box' : '')
  if (result.compact) return [join([ann || image, record.category]), join([ann && image, unit]), quality]
  const held = record.kind === 'offsets' ? `${unit}: ${regionCounts(record.regions ?? [])}` : unit
  return [
    join([image, ann, record.category]),
    join([held, quality]),
    settingsLine(record.grid, policy, model, record.model, record.modelHash, record.flipV, record.rule),
  ]
}

/** Caption of a model answer drawn from the command line. */
export function answerCaption(
  imageName: string,
  annId: number | undefined,
  result: CaptionFacts,
  grid: number,
  policy: MaskPolicy,
  model: ModelIdentity,
  flipV: boolean,
  rule: DecodeRule = 'union',
): string[] {
  const measured = result.iou !== undefined ? `IoU ${iouText(result.iou)}` : 'no ground truth'
  const unit = plural(result.tokens, 'grid token') + (rule === 'box' ? ' + box' : '')
  const held = join([unit, result.deleted > 0 && `${result.deleted} <DELETE>`])
  const who = join([imageName, annId !== undefined && `ann ${annId}`])
  if (result.compact) return [who, held, measured]
  return [who, join([held, measured]), settingsLine(grid, policy, model, undefined, undefined, flipV, rule)]
}

const REGION_ORDER = ['inside', 'ring', 'hard_delete', 'far']

/** "4 inside, 8 ring, 2 hard-delete, 2 far", SPEC §5 order, unknown regions last. */
function regionCounts(regions: readonly string[]): string {
  const rank = (r: string) => (REGION_ORDER.includes(r) ? REGION_ORDER.indexOf(r) : REGION_ORDER.length)
  const counts = new Map<string, number>()
  for (const r of [...regions].sort((a, b) => rank(a) - rank(b))) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts].map(([r, k]) => `${k} ${r.replace('_', '-')}`).join(', ')
}

function settingsLine(
  n: number,
  policy: MaskPolicy,
  model: ModelIdentity,
  recordModel?: string,
  recordHash?: string,
  flipV?: boolean,
  rule: DecodeRule = 'union',
): string {
  const differs = recordHash !== undefined && recordHash !== model.hash
  const made = model.name + (differs ? ` (record made with ${recordModel ?? recordHash})` : '')
  // the union rule, the paper's, goes unnamed (as before rules existed); the box rule says so
  return join([`n = ${n}`, rule === 'box' && 'box rule', policy, made, flipV && 'flip-v'])
}

function join(parts: readonly (string | false | undefined)[]): string {
  return parts.filter(Boolean).join(' · ')
}
