import type { Directives } from './cache-control.js'
import type { StoredResponse } from './stored-response.js'

/** Request `Cache-Control` (only with `honorRequestCacheControl`): no-cache, max-age, min-fresh. */
export function requestAllowsFresh(cc: Directives, stored: StoredResponse, now: number, freshUntil: number): boolean {
  if (cc.has('no-cache')) return false
  const maxAge = cc.get('max-age')
  if (typeof maxAge === 'string' && /^\d+$/.test(maxAge) && stored.ageSeconds(now) > Number(maxAge)) return false
  const minFresh = cc.get('min-fresh')
  if (typeof minFresh === 'string' && /^\d+$/.test(minFresh) && freshUntil - now < Number(minFresh) * 1000) return false
  return true
}

/** Request `max-stale` (only with `honorRequestCacheControl`). */
export function requestAllowsStale(cc: Directives, staleFor: number): boolean {
  if (!cc.has('max-stale')) return false
  const v = cc.get('max-stale')
  if (v === null) return true
  return typeof v === 'string' && /^\d+$/.test(v) && staleFor <= Number(v) * 1000
}
