/**
 * One error shape for everything a user can get wrong. A message names where
 * (file, record, field), what was expected and what came, so a user can fix the
 * input without reading our source.
 */
export interface ErrorPlace {
  file?: string
  /** e.g. "image 139" or "annotation 2045 (image 139)" */
  record?: string
  field?: string
}

export class GetokError extends Error {
  readonly place: ErrorPlace
  readonly expected?: string
  readonly got?: string

  constructor(
    readonly what: string,
    place: ErrorPlace = {},
    expected?: string,
    got?: string,
  ) {
    const where = [place.file, place.record, place.field && `field "${place.field}"`].filter(Boolean).join(', ')
    const detail = [expected && `expected ${expected}`, got !== undefined && `got ${got}`].filter(Boolean).join(', ')
    super([where, what, detail].filter(Boolean).join(': '))
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

/** Short, bounded rendering of a bad value for an error message. */
export function showValue(value: unknown): string {
  let text: string
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
