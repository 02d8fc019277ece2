/**
 * Where a JSON text first breaks the grammar (RFC 8259), as a character offset: for error messages
 * after JSON.parse has failed, since V8 does not always say where. A plain recursive-descent walk
 * that only checks; the text's length when nothing breaks.
 *
 *   jsonErrorOffset('{"a": [1, 2,]}')  →  12   (the "]" where a value should be)
 */
export function jsonErrorOffset(text: string): number {
  const walk = new SyntaxWalk(text)
  try {
    walk.value()
    walk.ws()
    if (walk.p < text.length) walk.fail()
    return text.length
  } catch (offset) {
    if (typeof offset === 'number') return offset
    throw offset
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/** Throws the offset it stopped at (a number) on the first error. */
class SyntaxWalk {
  p = 0
  constructor(private readonly text: string) {}

  fail(): never {
    throw this.p
  }

  ws(): void {
    while (this.p < this.text.length && ' \t\n\r'.includes(this.text[this.p])) this.p++
  }

  expect(ch: string): void {
    if (this.text[this.p] === ch) this.p++
    else this.fail()
  }

  string(): void {
    const text = this.text
    this.expect('"')
    for (;;) {
      const ch = text[this.p]
      if (ch === undefined || ch < ' ') this.fail()
      this.p++
      if (ch === '"') return
      if (ch === '\\') {
        if ('"\\/bfnrt'.includes(text[this.p] ?? '@')) this.p++
        else if (text[this.p] === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(this.p + 1, this.p + 5))) this.p += 5
        else this.fail()
      }
    }
  }

  value(): void {
    this.ws()
    const ch = this.text[this.p]
    if (ch === '{' || ch === '[') return this.container(ch === '{')
    if (ch === '"') return this.string()
    for (const word of ['true', 'false', 'null']) if (this.text.startsWith(word, this.p)) return void (this.p += word.length)
    NUMBER.lastIndex = this.p
    if (!NUMBER.test(this.text)) this.fail()
    this.p = NUMBER.lastIndex
  }

  container(isObject: boolean): void {
    const close = isObject ? '}' : ']'
    this.p++
    this.ws()
    if (this.text[this.p] === close) return void this.p++
    for (;;) {
      if (isObject) {
        this.ws()
        this.string()
        this.ws()
        this.expect(':')
      }
      this.value()
      this.ws()
      if (this.text[this.p] === close) return void this.p++
      this.expect(',')
    }
  }
}
