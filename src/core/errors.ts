/**
 * One error shape for everything a user can get wrong. A message names where
 * (file, record, field, or the command-line flag), what was expected and what
 * came, so a user can fix the input without reading our source:
 *
 *   instances.json, image 139, field "width": bad image width: expected a positive integer, got 0
 *   --tau: bad value: expected a number in (0, 1], got "abc"
 *
 * Every error a user causes is a GetokError (or a subclass); the base command
 * prints its text, without a stack, and exits 2.
 */
export interface ErrorPlace {
  file?: string
  /** e.g. "image 139" or "annotation 2045 (image 139)" */
  record?: string
  field?: string
  /** a command-line flag, without its dashes */
  flag?: string
}

export class GetokError extends Error {
  readonly place: ErrorPlace
  readonly expected?: string
  readonly got?: string
  /** the message as built here (oclif's flag parser rewrites `message` in place) */
  readonly text: string

  constructor(
    readonly what: string,
    place: ErrorPlace = {},
    expected?: string,
    got?: string,
  ) {
    const where = [place.flag && `--${place.flag}`, place.file, place.record, place.field && `field "${place.field}"`]
      .filter(Boolean)
      .join(', ')
    const detail = [expected && `expected ${expected}`, got !== undefined && `got ${got}`].filter(Boolean).join(', ')
    const text = [where, what, detail].filter(Boolean).join(': ')
    super(text)
    this.text = text
    this.name = 'GetokError'
    this.place = place
    this.expected = expected
    this.got = got
  }

  /** The same error with more of its place filled in (e.g. the record, once known). */
  at(place: ErrorPlace): GetokError {
    return new GetokError(this.what, {...place, ...this.place}, this.expected, this.got)
  }
}

/** A bad command-line flag value: `--tau: bad value: expected …, got …`. */
export class FlagError extends GetokError {
  constructor(flag: string, what: string, expected?: string, got?: string) {
    super(what, {flag}, expected, got)
    this.name = 'FlagError'
  }
}

/**
 * Short, bounded rendering of a bad value for an error message, as JSON so that its type shows:
 * the string "162.47" is `"162.47"`, the number 162.47 is `162.47`. Numbers JSON cannot write
 * (1e400 in a file parses to Infinity) are shown as `Infinity`, `-Infinity` or `NaN`, not as JSON's `null`.
 */
export function showValue(value: unknown): string {
  let text: string
  try {
    const marked = JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `${NUMBER_MARK}${v}` : v))
    text = marked === undefined ? String(value) : marked.replace(MARKED_NUMBER, '$1')
  } catch {
    text = String(value)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

// a non-finite number, written as the string "\u0000Infinity" by the replacer above and unquoted after
const NUMBER_MARK = '\u0000'
const MARKED_NUMBER = /"\\u0000(-?Infinity|NaN)"/g

/** A system error's code (ENOENT, ENOSPC, …), or its message where it has none: the words in "cannot … (ENOSPC)". */
export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message
}
