/**
 * A Structured Field Dictionary parser (RFC 8941 §4.2.2), as much of it as `CDN-Cache-Control`
 * needs (RFC 9213 §2.1: the field is a Dictionary). Strict: any syntax error makes the whole field
 * invalid (RFC 8941 §4.2: "fail parsing"), and the caller ignores it.
 */

/** A bare item (RFC 8941 §3.3); byte sequences are kept as their base64 text. */
export type BareItem =
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'decimal'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'token'; readonly value: string }
  | { readonly type: 'bytes'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'inner-list' }

class ParseError extends Error {}

const LCALPHA = /[a-z]/
const KEY_CHAR = /[a-z0-9_\-.*]/
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/
const BASE64 = /[A-Za-z0-9+/=]/

/** Parses a Dictionary: its members' values by key (the last of a repeated key wins), or undefined when invalid. */
export function parseDictionary(text: string): Map<string, BareItem> | undefined {
  try {
    return new Parser(text).dictionary()
  } catch (error) {
    if (error instanceof ParseError) return undefined
    throw error
  }
}

class Parser {
  readonly #s: string
  #i = 0

  constructor(text: string) {
    this.#s = text
  }

  dictionary(): Map<string, BareItem> {
    const out = new Map<string, BareItem>()
    this.#sp()
    if (this.#i >= this.#s.length) return out
    for (;;) {
      const key = this.#key()
      let value: BareItem
      if (this.#s[this.#i] === '=') {
        this.#i++
        value = this.#s[this.#i] === '(' ? this.#innerList() : this.#bareItem()
      } else {
        value = { type: 'boolean', value: true }
      }
      this.#parameters()
      out.set(key, value)
      this.#ows()
      if (this.#i >= this.#s.length) return out
      if (this.#s[this.#i] !== ',') throw new ParseError()
      this.#i++
      this.#ows()
      if (this.#i >= this.#s.length) throw new ParseError() // a trailing comma
    }
  }

  #sp(): void {
    while (this.#s[this.#i] === ' ') this.#i++
  }

  #ows(): void {
    while (this.#s[this.#i] === ' ' || this.#s[this.#i] === '\t') this.#i++
  }

  #key(): string {
    const start = this.#i
    const first = this.#s[this.#i]
    if (first === undefined || !(LCALPHA.test(first) || first === '*')) throw new ParseError()
    this.#i++
    while (this.#i < this.#s.length && KEY_CHAR.test(this.#s[this.#i] as string)) this.#i++
    return this.#s.slice(start, this.#i)
  }

  #parameters(): void {
    while (this.#s[this.#i] === ';') {
      this.#i++
      this.#sp()
      this.#key()
      if (this.#s[this.#i] === '=') {
        this.#i++
        this.#bareItem()
      }
    }
  }

  #innerList(): BareItem {
    this.#i++
    for (;;) {
      this.#sp()
      if (this.#s[this.#i] === ')') {
        this.#i++
        this.#parameters()
        return { type: 'inner-list' }
      }
      this.#bareItem()
      this.#parameters()
      const c = this.#s[this.#i]
      if (c !== ' ' && c !== ')') throw new ParseError()
    }
  }

  #bareItem(): BareItem {
    const c = this.#s[this.#i]
    if (c === undefined) throw new ParseError()
    if (c === '-' || (c >= '0' && c <= '9')) return this.#number()
    if (c === '"') return this.#string()
    if (c === '*' || /[A-Za-z]/.test(c)) return this.#token()
    if (c === ':') return this.#bytes()
    if (c === '?') return this.#boolean()
    throw new ParseError()
  }

  #number(): BareItem {
    const m = /^-?(\d{1,15})(\.\d{1,3})?/.exec(this.#s.slice(this.#i))
    if (m === null) throw new ParseError()
    const text = m[0]
    if (m[2] === undefined) {
      if (/^-?\d{16}/.test(this.#s.slice(this.#i))) throw new ParseError()
      this.#i += text.length
      return { type: 'integer', value: Number(text) }
    }
    if ((m[1] as string).length > 12) throw new ParseError()
    if (/^\d/.test(this.#s.slice(this.#i + text.length))) throw new ParseError()
    this.#i += text.length
    return { type: 'decimal', value: Number(text) }
  }

  #string(): BareItem {
    this.#i++
    let out = ''
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i] as string
      this.#i++
      if (c === '\\') {
        const next = this.#s[this.#i]
        if (next !== '"' && next !== '\\') throw new ParseError()
        out += next
        this.#i++
      } else if (c === '"') {
        return { type: 'string', value: out }
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) throw new ParseError()
        out += c
      }
    }
    throw new ParseError()
  }

  #token(): BareItem {
    const start = this.#i
    this.#i++
    while (this.#i < this.#s.length && TCHAR.test(this.#s[this.#i] as string)) this.#i++
    return { type: 'token', value: this.#s.slice(start, this.#i) }
  }

  #bytes(): BareItem {
    this.#i++
    const start = this.#i
    while (this.#i < this.#s.length && BASE64.test(this.#s[this.#i] as string)) this.#i++
    if (this.#s[this.#i] !== ':') throw new ParseError()
    const value = this.#s.slice(start, this.#i)
    this.#i++
    return { type: 'bytes', value }
  }

  #boolean(): BareItem {
    const v = this.#s[this.#i + 1]
    if (v !== '0' && v !== '1') throw new ParseError()
    this.#i += 2
    return { type: 'boolean', value: v === '1' }
  }
}
