import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { ResolvedBehavior } from './behavior-options.js'

/**
 * A behavior compiled for the request path: pattern matcher, cache-key builder and the selection of
 * what is forwarded. Keys are `[METHOD ]path[?query][#hash of keyed headers and cookies]`: the URL
 * part stays readable (purge by URL and prefix match on it) and credentials such as Authorization
 * never appear in a key in clear (keys may land in Redis).
 */
export class CompiledBehavior {
  readonly options: ResolvedBehavior
  readonly index: number
  readonly #regex: RegExp | undefined
  /** `/static/*`-style patterns (a literal then one trailing `*`) match with startsWith, no regex. */
  readonly #prefix: string | undefined
  readonly #queryAll: boolean
  readonly #queryNames: ReadonlySet<string> | undefined
  readonly #cookieAll: boolean
  readonly #cookieNames: ReadonlySet<string> | undefined
  readonly #headers: readonly string[]
  /** True when the key is the URL part alone (no headers or cookies): the hit path builds no string. */
  readonly urlOnly: boolean

  constructor(options: ResolvedBehavior, index: number) {
    this.options = options
    this.index = index
    const pattern = options.pathPattern
    const literalPrefix = pattern.endsWith('*') && !/[*?]/.test(pattern.slice(0, -1))
    this.#prefix = pattern !== '*' && literalPrefix ? pattern.slice(0, -1) : undefined
    this.#regex = pattern === '*' || this.#prefix !== undefined ? undefined : patternToRegex(pattern)
    this.#queryAll = options.queryStrings === 'all'
    this.#queryNames = Array.isArray(options.queryStrings) ? new Set(options.queryStrings) : undefined
    this.#cookieAll = options.cookies === 'all'
    this.#cookieNames = Array.isArray(options.cookies) ? new Set(options.cookies) : undefined
    this.#headers = options.headers
    this.urlOnly = options.headers.length === 0 && options.cookies === 'none'
  }

  matches(path: string): boolean {
    if (this.#prefix !== undefined) return path.startsWith(this.#prefix)
    return this.#regex === undefined || this.#regex.test(path)
  }

  /** The query string kept (keyed and forwarded), without `?`; '' when none. */
  query(rawQuery: string): string {
    if (rawQuery === '') return ''
    if (this.#queryAll) return rawQuery
    const names = this.#queryNames
    if (names === undefined) return ''
    const kept: [string, string][] = []
    for (const part of rawQuery.split('&')) {
      if (part === '') continue
      const eq = part.indexOf('=')
      const name = eq === -1 ? part : part.slice(0, eq)
      if (names.has(name) || names.has(safeDecode(name))) kept.push([name, part])
    }
    // Sorted by name so `?a=1&b=2` and `?b=2&a=1` share one entry (stable for repeated names).
    kept.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    return kept.map((k) => k[1]).join('&')
  }

  /** The `Cookie` header forwarded, or undefined. */
  cookie(headers: IncomingHttpHeaders): string | undefined {
    const raw = headers.cookie
    if (raw === undefined || raw === '') return undefined
    if (this.#cookieAll) return raw
    const names = this.#cookieNames
    if (names === undefined) return undefined
    const kept: string[] = []
    for (const part of raw.split(';')) {
      const pair = part.trim()
      const eq = pair.indexOf('=')
      const name = eq === -1 ? pair : pair.slice(0, eq)
      if (names.has(name)) kept.push(pair)
    }
    if (kept.length === 0) return undefined
    kept.sort()
    return kept.join('; ')
  }

  /** The URL part of keys: path plus kept query. */
  urlPart(path: string, rawQuery: string): string {
    const q = this.query(rawQuery)
    return q === '' ? path : `${path}?${q}`
  }

  /**
   * The primary cache key. `urlPart` from {@link urlPart}. Keyed headers and cookies are hashed
   * (SHA-256, base64url) so a bearer token is never part of a stored key.
   */
  key(method: string, urlPart: string, headers: IncomingHttpHeaders): string {
    const prefix = method === 'OPTIONS' ? 'OPTIONS ' : ''
    if (this.urlOnly) return prefix === '' ? urlPart : prefix + urlPart
    let material = ''
    for (const name of this.#headers) {
      const value = headers[name]
      material += `${name}\u0000${value === undefined ? '\u0001' : Array.isArray(value) ? value.join(', ') : value}\u0000`
    }
    const cookie = this.cookie(headers)
    material += `cookie\u0000${cookie ?? '\u0001'}`
    return `${prefix}${urlPart}#${createHash('sha256').update(material).digest('base64url').slice(0, 32)}`
  }

  /** Keyed plus forward-only header names (lowercase). */
  get forwardedHeaderNames(): readonly string[] {
    return this.options.forwardHeaders.length === 0 ? this.#headers : [...this.#headers, ...this.options.forwardHeaders]
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '))
  } catch {
    return text
  }
}

/** CloudFront path pattern: `*` any run of characters, `?` one character, anchored, case-sensitive. */
export function patternToRegex(pattern: string): RegExp {
  let source = '^'
  for (const c of pattern) {
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else source += c.replace(/[.+^${}()|[\]\\/]/g, (x) => `\\${x}`)
  }
  return new RegExp(`${source}$`, 's')
}

/** The ordered behaviors; {@link match} returns the first whose pattern matches. */
export class BehaviorTable {
  readonly behaviors: readonly CompiledBehavior[]
  readonly #last: CompiledBehavior

  constructor(behaviors: readonly ResolvedBehavior[]) {
    this.behaviors = behaviors.map((b, i) => new CompiledBehavior(b, i))
    this.#last = this.behaviors[this.behaviors.length - 1] as CompiledBehavior
  }

  match(path: string): CompiledBehavior {
    const list = this.behaviors
    for (let i = 0; i < list.length - 1; i++) {
      const b = list[i] as CompiledBehavior
      if (b.matches(path)) return b
    }
    // The resolver guarantees the last behavior is the `*` default.
    return this.#last
  }
}
