import { randomBytes } from 'node:crypto'
import type { CdnHarness } from '../contract/cdn-purger-contract.js'
import type { CdnPurger } from '../../src/cdn/purger.js'
import type { TestOrigin } from './origin.js'
import { getThrough, startOrigin } from './origin.js'

/**
 * A contract harness for a CDN that really caches (Varnish, nginx): objects come from a test
 * origin that sends each path's Surrogate-Key and a long s-maxage; "purged" means the CDN now
 * serves a copy the origin made after the one it had cached. Each harness uses a host name of its own, so tests that
 * share one daemon never see each other's objects.
 */
export interface CachingCdn {
  /** Where clients reach the cache. */
  readonly url: string
}

export interface SharedOrigin {
  readonly origin: TestOrigin
  /** Surrogate keys each `host + path` is served with. */
  readonly tags: Map<string, readonly string[]>
}

export async function startTaggingOrigin(): Promise<SharedOrigin> {
  const tags = new Map<string, readonly string[]>()
  const origin = await startOrigin((host, path) => ({
    'cache-control': 'public, max-age=0, s-maxage=600, stale-while-revalidate=60',
    'surrogate-key': (tags.get(host + path) ?? []).join(' '),
  }))
  return { origin, tags }
}

export function cachingHarness(cdn: CachingCdn, shared: SharedOrigin, make: (host: string) => CdnPurger, unreachable: () => CdnPurger): CdnHarness {
  const host = `t${randomBytes(4).toString('hex')}.test`
  const purger = make(host)
  const copies = new Map<string, string>()
  return {
    purger,
    cache: async (path, tags) => {
      shared.tags.set(host + path, tags)
      await getThrough(cdn.url, host, path)
      const before = shared.origin.hits(host, path)
      copies.set(path, await getThrough(cdn.url, host, path))
      if (shared.origin.hits(host, path) !== before) throw new Error(`${cdn.url} did not cache ${path}`)
    },
    // The origin numbers its answers: a body other than the cached copy came from the origin
    // after the purge (a soft-purged object is served stale once while it is refetched).
    purged: async (path) => (await getThrough(cdn.url, host, path)) !== copies.get(path),
    unreachable,
    cleanup: () => purger.close(),
  }
}
