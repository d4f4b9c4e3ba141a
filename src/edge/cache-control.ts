import { parseDictionary } from './structured-field.js'

/**
 * Parsing of `Cache-Control` (RFC 9111 §5.2), `CDN-Cache-Control` (RFC 9213, a Dictionary) and
 * `Surrogate-Control` (W3C Edge Architecture 1.0: directives may carry a `;device` target).
 *
 * Directive names are case-insensitive; values are a token or a quoted-string, and a quoted string
 * hides whatever it contains (`foo="max-age=3600"` carries no max-age). When a directive appears
 * twice the first occurrence wins (RFC 9111 §4.2.1 allows that or "stale").
 */

/** A directive without a value maps to `null`; a malformed value maps to {@link INVALID}. */
export type DirectiveValue = string | null | typeof INVALID
/** Marks a directive whose value could not be parsed. */
export const INVALID: unique symbol = Symbol('invalid')

/** Parsed directives, lowercase names, first occurrence kept. */
export type Directives = ReadonlyMap<string, DirectiveValue>

/** No directives (shared, never mutated). */
export const EMPTY_DIRECTIVES: Directives = new Map()

interface Item {
  name: string
  value: DirectiveValue
  target: string | null
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/

/** Splits a directive list into items; malformed items are skipped as a whole. */
function tokenize(text: string, allowTarget: boolean): Item[] {
  const items: Item[] = []
  let i = 0
  const n = text.length
  const skipOws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++
  }
  const skipToComma = (): void => {
    let quoted = false
    while (i < n) {
      const c = text[i]
      if (quoted) {
        if (c === '\\') i++
        else if (c === '"') quoted = false
      } else if (c === '"') {
        quoted = true
      } else if (c === ',') {
        break
      }
      i++
    }
  }
  const readToken = (): string => {
    const start = i
    while (i < n && TCHAR.test(text[i] as string)) i++
    return text.slice(start, i)
  }
  while (i < n) {
    skipOws()
    if (text[i] === ',') { i++; continue }
    if (i >= n) break
    const name = readToken().toLowerCase()
    if (name === '') { skipToComma(); continue }
    let value: DirectiveValue = null
    let target: string | null = null
    let ok = true
    if (text[i] === '=') {
      i++
      if (text[i] === '"') {
        i++
        let out = ''
        let closed = false
        while (i < n) {
          const c = text[i] as string
          if (c === '\\' && i + 1 < n) { out += text[i + 1] as string; i += 2; continue }
          if (c === '"') { closed = true; i++; break }
          out += c
          i++
        }
        value = closed ? out : INVALID
      } else {
        const token = readToken()
        value = token === '' ? INVALID : token
      }
    }
    if (allowTarget && text[i] === ';') {
      i++
      const t = readToken()
      target = t === '' ? null : t
      if (t === '') ok = false
    }
    skipOws()
    if (i < n && text[i] !== ',') {
      // Trailing garbage (`max-age =3600`, `max-age=3600a b`): the whole item is malformed.
      ok = false
      skipToComma()
    }
    if (ok) items.push({ name, value, target })
  }
  return items
}

/** Directives whose value is delta-seconds: an sf-integer in `CDN-Cache-Control`. */
const NUMERIC_DIRECTIVES: ReadonlySet<string> = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error', 'min-fresh', 'max-stale'])
/** Directives without a value (sf-boolean true), except `private` and `no-cache`, which may name fields (an sf-string). */
const FLAG_DIRECTIVES: ReadonlySet<string> = new Set(['no-store', 'public', 'must-revalidate', 'proxy-revalidate', 'must-understand', 'no-transform', 'immutable', 'only-if-cached'])

/**
 * Parses `CDN-Cache-Control` (RFC 9213 §2.1): a Structured Field Dictionary (RFC 8941), not the
 * `Cache-Control` syntax. Undefined when the field is absent or invalid, and then it is ignored as
 * a whole (RFC 9213 §2.1, RFC 8941 §4.2): a syntax error, or a known directive with a value of the
 * wrong type (`max-age="60"`, `no-store=1`). Unknown directives are ignored, whatever their type.
 */
export function parseCdnCacheControl(text: string | undefined): Directives | undefined {
  if (text === undefined) return undefined
  const dictionary = parseDictionary(text)
  if (dictionary === undefined) return undefined
  const out = new Map<string, DirectiveValue>()
  for (const [name, item] of dictionary) {
    if (NUMERIC_DIRECTIVES.has(name)) {
      if (item.type !== 'integer' || item.value < 0) return undefined
      out.set(name, String(item.value))
    } else if (FLAG_DIRECTIVES.has(name)) {
      if (item.type !== 'boolean' || !item.value) return undefined
      out.set(name, null)
    } else if (name === 'private' || name === 'no-cache') {
      if (item.type === 'string') out.set(name, item.value)
      else if (item.type === 'boolean' && item.value) out.set(name, null)
      else return undefined
    } else {
      out.set(name, item.type === 'boolean' ? null : item.type === 'integer' || item.type === 'token' || item.type === 'string' ? String(item.value) : INVALID)
    }
  }
  return out
}

/** Parses `Cache-Control` / `Pragma` style lists. */
export function parseDirectives(text: string | undefined): Directives {
  if (text === undefined || text === '') return EMPTY_DIRECTIVES
  const out = new Map<string, DirectiveValue>()
  for (const item of tokenize(text, false)) if (!out.has(item.name)) out.set(item.name, item.value)
  return out
}

/**
 * Parses `Surrogate-Control`, keeping the directives meant for `surrogateId` (targeted `;id`) or for
 * every surrogate (no target). Targeted directives win over untargeted ones of the same name.
 */
export function parseSurrogateControl(text: string | undefined, surrogateId: string): Directives {
  if (text === undefined || text === '') return EMPTY_DIRECTIVES
  const general = new Map<string, DirectiveValue>()
  const targeted = new Map<string, DirectiveValue>()
  for (const item of tokenize(text, true)) {
    if (item.target === null) {
      if (!general.has(item.name)) general.set(item.name, item.value)
    } else if (item.target === surrogateId) {
      if (!targeted.has(item.name)) targeted.set(item.name, item.value)
    }
  }
  for (const [name, value] of targeted) general.set(name, value)
  return general
}

/** RFC 9111 §1.2.2: delta-seconds larger than 2^31 are treated as 2^31. */
export const MAX_DELTA_SECONDS = 2147483648

/**
 * The delta-seconds of a directive: a number of seconds, `undefined` when the directive is absent,
 * or NaN when it is present but not a non-negative integer (the response is then treated as stale,
 * RFC 9111 §4.2.1 "invalid freshness information").
 */
export function deltaSeconds(directives: Directives, name: string): number | undefined {
  const value = directives.get(name)
  if (value === undefined) return undefined
  if (value === null || value === INVALID || !/^\d+$/.test(value)) return Number.NaN
  const n = Number(value)
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n
}

/**
 * Surrogate-Control `max-age=N[+M]` (Edge Architecture §3): N is the freshness lifetime, M how long
 * a stale copy may still be served. Returns `[N, M]`, undefined when absent, NaN parts when invalid.
 */
export function surrogateMaxAge(directives: Directives): readonly [number, number] | undefined {
  const value = directives.get('max-age')
  if (value === undefined) return undefined
  if (value === null || value === INVALID) return [Number.NaN, 0]
  const m = /^(\d+)(?:\+(\d+))?$/.exec(value)
  if (m === null) return [Number.NaN, 0]
  const clamp = (x: number): number => (x > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : x)
  return [clamp(Number(m[1])), m[2] === undefined ? 0 : clamp(Number(m[2]))]
}

/**
 * Field names of a qualified `no-cache="a, b"` or `private="a"` (RFC 9111 §5.2.2.4, §5.2.2.7), or
 * undefined when the directive is unqualified or absent.
 */
export function qualifiedFields(directives: Directives, name: string): string[] | undefined {
  const value = directives.get(name)
  if (typeof value !== 'string') return undefined
  const fields = value.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '')
  return fields.length === 0 ? undefined : fields
}
