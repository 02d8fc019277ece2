/**
 * Prompt and answer wording for exported conversations. Defaults follow the
 * paper's examples ("Please segment …"); a JSON file can replace any entry:
 *
 *   {
 *     "seg":   ["Please segment {expression}.", "Segment {expression}."],   one string or a list
 *     "multi": "Please segment all the {categories}.",
 *     "answers": {"seg": "{answer}"}
 *   }
 *
 * Placeholders: {expression} (a referring expression, or "the cat" from
 * `category_expression` without one), {category} ("cat"), {categories}
 * ("cats"), {prev} (the previous prediction, refinement in one turn), {answer}
 * (the tokens, in answers). Where a key holds several variants, each
 * conversation takes one chosen by a hash of its id, so a rerun picks the same.
 */
export const PROMPT_KEYS = ['seg', 'box', 'point', 'multi', 'refine', 'refine_one_turn', 'refine_box', 'category_expression'] as const
export type PromptKey = (typeof PROMPT_KEYS)[number]
export const ANSWER_KEYS = ['seg', 'box', 'point', 'multi', 'refine'] as const
export type AnswerKey = (typeof ANSWER_KEYS)[number]

export interface Templates {
  prompts: Record<PromptKey, string[]>
  answers: Record<AnswerKey, string>
}

export const DEFAULT_TEMPLATES: Templates = {
  prompts: {
    seg: ['Please segment {expression}.'],
    box: ['Please locate {expression} with a bounding box.'],
    point: ['Please point to {expression}.'],
    multi: ['Please segment all the {categories}.'],
    refine: ['Please refine the segmentation with offset tokens.'],
    refine_one_turn: ['A previous segmentation of {expression} is {prev}. Please refine it with offset tokens.'],
    // box rule: the second turn of seg and multi, the box corners' moves to the half-cell lattice
    refine_box: ['Please refine the box corners with offset tokens.'],
    category_expression: ['the {category}'],
  },
  answers: {seg: '{answer}', box: '{answer}', point: '{answer}', multi: '{answer}', refine: '{answer}'},
}

const PLACEHOLDERS = ['expression', 'category', 'categories', 'prev', 'answer'] as const
type Placeholder = (typeof PLACEHOLDERS)[number]
export type TemplateVars = Partial<Record<Placeholder, string>>

/** Placeholders each entry must contain (one of the list). */
const REQUIRED: Partial<Record<PromptKey, Placeholder[]>> = {
  seg: ['expression'],
  box: ['expression'],
  point: ['expression'],
  multi: ['categories', 'category'],
  refine_one_turn: ['prev'],
  category_expression: ['category'],
}

/** Templates from a parsed JSON file over the defaults; throws Error naming the key on anything wrong. */
export function parseTemplates(doc: unknown): Templates {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('expected a JSON object of template lists')
  const out: Templates = {prompts: {...DEFAULT_TEMPLATES.prompts}, answers: {...DEFAULT_TEMPLATES.answers}}
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key === 'answers') out.answers = {...out.answers, ...parseAnswers(value)}
    else if ((PROMPT_KEYS as readonly string[]).includes(key)) out.prompts[key as PromptKey] = parseVariants(key as PromptKey, value)
    else throw new Error(`unknown key "${key}" (known: ${[...PROMPT_KEYS, 'answers'].join(', ')})`)
  }
  return out
}

function parseVariants(key: PromptKey, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.trim())) {
    throw new Error(`"${key}": expected a non-empty string or a non-empty list of them`)
  }
  for (const s of list as string[]) checkPlaceholders(`"${key}"`, s, REQUIRED[key] ?? [])
  return list as string[]
}

function parseAnswers(value: unknown): Partial<Record<AnswerKey, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error('"answers": expected an object of task → answer template')
  const out: Partial<Record<AnswerKey, string>> = {}
  for (const [key, s] of Object.entries(value as Record<string, unknown>)) {
    if (!(ANSWER_KEYS as readonly string[]).includes(key))
      throw new Error(`"answers": unknown task "${key}" (known: ${ANSWER_KEYS.join(', ')})`)
    if (typeof s !== 'string') throw new Error(`"answers.${key}": expected a string`)
    checkPlaceholders(`"answers.${key}"`, s, ['answer'])
    out[key as AnswerKey] = s
  }
  return out
}

function checkPlaceholders(where: string, text: string, oneOf: readonly Placeholder[]): void {
  for (const m of text.matchAll(/\{([^{}]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(m[1]))
      throw new Error(`${where}: unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`)
  }
  if (oneOf.length > 0 && !oneOf.some((p) => text.includes(`{${p}}`))) {
    throw new Error(`${where}: ${JSON.stringify(text)} lacks ${oneOf.map((p) => `{${p}}`).join(' or ')}`)
  }
}

/** Replace the placeholders; one missing from vars is an error (a template bug, caught by tests). */
export function fillTemplate(template: string, vars: TemplateVars): string {
  return template.replace(/\{(expression|category|categories|prev|answer)\}/g, (_m, name: Placeholder) => {
    const v = vars[name]
    if (v === undefined) throw new Error(`template ${JSON.stringify(template)} needs {${name}}`)
    return v
  })
}

/** One variant, chosen by a hash of `key` (FNV-1a), so the same conversation always gets the same wording. */
export function pickVariant(variants: readonly string[], key: string): string {
  let h = 0x811c9dc5
  for (let k = 0; k < key.length; k++) h = Math.imul(h ^ key.charCodeAt(k), 0x01000193) >>> 0
  return variants[h % variants.length]
}

const IRREGULAR_PLURALS: Record<string, string> = {
  person: 'people',
  mouse: 'mice',
  knife: 'knives',
  sheep: 'sheep',
  skis: 'skis',
  scissors: 'scissors',
  broccoli: 'broccoli',
}

/** English plural of a COCO category name ("bus" → "buses", "person" → "people", "wine glass" → "wine glasses"). */
export function pluralCategory(name: string): string {
  const words = name.split(' ')
  const last = words[words.length - 1]
  const plural = IRREGULAR_PLURALS[last] ?? (/(s|x|z|ch|sh)$/.test(last) ? `${last}es` : `${last}s`)
  return [...words.slice(0, -1), plural].join(' ')
}
