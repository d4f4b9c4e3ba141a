import { parseDuration } from '../core/duration.js'
import type { Duration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'

/**
 * How a response may be cached downstream:
 * - `api`: shared caches (the edge, a CDN) keep it for `ttl` (`s-maxage`) and may serve it stale
 *   for `grace` when the origin fails (`stale-if-error`) and while revalidating
 *   (`stale-while-revalidate`); browsers revalidate every time (`max-age=0`), since only shared
 *   caches hear purges;
 * - `immutable`: a versioned asset (its URL changes with its content): everyone keeps it a year;
 * - `private`: the browser only (`private, max-age`), never a shared cache (per-user data);
 * - `no-store`: nobody keeps it.
 */
export type CachePreset = 'api' | 'immutable' | 'private' | 'no-store'

/** What the headers are derived from: the options the entry was cached with. */
export interface CacheHeaderOptions {
  readonly preset: CachePreset
  /** Freshness: `s-maxage` (api) or `max-age` (private). Required for `api` and `private`. */
  readonly ttl?: Duration
  /** How long stale may be served: `stale-if-error` and `stale-while-revalidate` (api). Default 0. */
  readonly grace?: Duration
  /** The entry's tags: `Surrogate-Key` (space-separated), what the edge and CDNs purge by. */
  readonly tags?: readonly string[]
  /** The entry's source version: a strong `ETag` (`"v<version>"`). */
  readonly version?: number | string
}

const KNOWN = ['preset', 'ttl', 'grace', 'tags', 'version']
const PRESETS: readonly CachePreset[] = ['api', 'immutable', 'private', 'no-store']

/**
 * The `Cache-Control`, `ETag` and `Surrogate-Key` headers of a response built from a cached entry,
 * so that the browser, the edge and a CDN keep it exactly as long as tiercache does, and purge it
 * by the same tags:
 *
 * ```ts
 * const product = await cache.getOrSet(`product:${id}`, load, { ttl: '60s', grace: '1h', tags: [`product:${id}`] })
 * res.writeHead(200, cacheHeaders({ preset: 'api', ttl: '60s', grace: '1h', tags: [`product:${id}`], version: product.version }))
 * // cache-control: public, max-age=0, s-maxage=60, stale-while-revalidate=3600, stale-if-error=3600
 * ```
 *
 * Bad options throw `E_INVALID_OPTION` naming the option. A tag with a space or a control
 * character is refused (it would split into two surrogate keys, or break the header).
 */
export function cacheHeaders(options: CacheHeaderOptions): Record<string, string> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('cacheHeaders', 'an object { preset, ttl?, grace?, tags?, version? }', options)
  for (const key of Object.keys(options)) if (!KNOWN.includes(key)) throw new InvalidOptionError(key, `one of ${KNOWN.join(', ')} (unknown option)`, key)
  if (!PRESETS.includes(options.preset)) throw new InvalidOptionError('preset', PRESETS.join(', '), options.preset)
  const headers: Record<string, string> = {}
  const seconds = (d: Duration | undefined, name: string, required: boolean): number => {
    if (d === undefined) {
      if (required) throw new InvalidOptionError(name, `a duration (the ${options.preset} preset needs it)`, d)
      return 0
    }
    return Math.floor(parseDuration(d, name) / 1000)
  }
  switch (options.preset) {
    case 'api': {
      const ttl = seconds(options.ttl, 'ttl', true)
      const grace = seconds(options.grace, 'grace', false)
      headers['cache-control'] = `public, max-age=0, s-maxage=${ttl}` + (grace > 0 ? `, stale-while-revalidate=${grace}, stale-if-error=${grace}` : '')
      break
    }
    case 'immutable':
      headers['cache-control'] = 'public, max-age=31536000, immutable'
      break
    case 'private':
      headers['cache-control'] = `private, max-age=${seconds(options.ttl, 'ttl', true)}`
      break
    case 'no-store':
      headers['cache-control'] = 'no-store'
      break
  }
  if (options.tags !== undefined && options.tags.length > 0 && options.preset !== 'no-store' && options.preset !== 'private') {
    for (const tag of options.tags) {
      // eslint-disable-next-line no-control-regex
      if (typeof tag !== 'string' || tag === '' || /[\s\u0000-\u001f\u007f]/.test(tag)) throw new InvalidOptionError('tags', 'strings without spaces or control characters', tag)
    }
    headers['surrogate-key'] = [...new Set(options.tags)].join(' ')
  }
  if (options.version !== undefined && options.preset !== 'no-store') {
    const v = String(options.version)
    if (!/^[\x21\x23-\x7e]+$/.test(v)) throw new InvalidOptionError('version', 'a number or a string of visible ASCII without quotes', options.version)
    headers.etag = `"v${v}"`
  }
  return headers
}
