/**
 * The CDN purger contract (src/cdn/purger.ts): one suite, run against every adapter, each in front
 * of the real thing where it can run here (varnishd, nginx) and otherwise a local server that
 * checks requests against the provider's documented API (test/helpers/cdn-apis.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CdnPurger, PurgeKind } from '../../src/cdn/purger.js'
import { CdnPurgeError } from '../../src/cdn/errors.js'
import { isTierCacheError } from '../../src/core/errors.js'
import { until } from '../helpers/until.js'

export interface CdnHarness {
  readonly purger: CdnPurger
  /** Caches `path` (tagged `tags`) in the CDN; resolves once the CDN serves it from cache. */
  cache(path: string, tags: readonly string[]): Promise<void>
  /**
   * True once the CDN no longer serves its cached copy of `path` as fresh: the next request goes to
   * the origin (a soft purge: it is revalidated). False when it still serves the copy.
   */
  purged(path: string): Promise<boolean>
  /** Requests the provider received so far, when the harness can count them. */
  requestCount?(): number
  /** The same adapter pointed at a provider that does not answer (a closed port). */
  unreachable(): CdnPurger
  /** The same adapter with credentials the provider refuses, when the provider checks any. */
  refusedCredentials?(): CdnPurger
  /** Protocol violations the provider saw (fakes); must stay empty. */
  violations?(): readonly string[]
  cleanup(): Promise<void>
}

const ITEMS: Record<Exclude<PurgeKind, 'all'>, (h: CdnHarness) => string[]> = {
  tags: () => ['t-a1'],
  urls: () => ['/a/2'],
  prefixes: () => ['/a/'],
}

export function describeCdnPurgerContract(name: string, create: () => Promise<CdnHarness>): void {
  describe(`CDN purger contract: ${name}`, () => {
    let h: CdnHarness

    beforeEach(async () => {
      h = await create()
      await h.cache('/a/1', ['t-a1', 't-a'])
      await h.cache('/a/2', ['t-a2', 't-a'])
      await h.cache('/b/1', ['t-b1'])
    })
    afterEach(async () => {
      const violations = h.violations?.() ?? []
      await h.cleanup()
      expect(violations).toEqual([])
    })

    it('declares what it purges and its batch limits', () => {
      const { capabilities, limits } = h.purger
      expect(capabilities.kinds.length).toBeGreaterThan(0)
      for (const kind of capabilities.soft) expect(capabilities.kinds).toContain(kind)
      for (const n of Object.values(limits.itemsPerRequest)) expect(Number.isInteger(n) && n >= 1).toBe(true)
      expect(limits.requestsPerSecond).toBeGreaterThan(0)
      expect(limits.burst).toBeGreaterThanOrEqual(1)
      expect(h.purger.provider).toMatch(/^[a-z]+$/)
    })

    it('purges by tag only what carries the tag', async () => {
      if (!h.purger.capabilities.kinds.includes('tags')) return expectUnsupported(h, 'tags')
      await h.purger.purge({ kind: 'tags', items: ['t-a1'], soft: false })
      expect(await h.purged('/a/1')).toBe(true)
      expect(await h.purged('/a/2')).toBe(false)
      expect(await h.purged('/b/1')).toBe(false)
    })

    it('purges one URL and nothing else', async () => {
      if (!h.purger.capabilities.kinds.includes('urls')) return expectUnsupported(h, 'urls')
      await h.purger.purge({ kind: 'urls', items: ['/a/2'], soft: false })
      expect(await h.purged('/a/2')).toBe(true)
      expect(await h.purged('/a/1')).toBe(false)
    })

    it('purges by prefix only the URLs under it', async () => {
      if (!h.purger.capabilities.kinds.includes('prefixes')) return expectUnsupported(h, 'prefixes')
      await h.purger.purge({ kind: 'prefixes', items: ['/a/'], soft: false })
      expect(await h.purged('/a/1')).toBe(true)
      expect(await h.purged('/a/2')).toBe(true)
      expect(await h.purged('/b/1')).toBe(false)
    })

    it('purges everything', async () => {
      if (!h.purger.capabilities.kinds.includes('all')) return expectUnsupported(h, 'all')
      await h.purger.purge({ kind: 'all', items: [], soft: false })
      for (const path of ['/a/1', '/a/2', '/b/1']) expect(await h.purged(path)).toBe(true)
    })

    it('soft-purges the kinds it declares soft (the object is revalidated), and no other object', async () => {
      for (const kind of h.purger.capabilities.soft) {
        if (kind === 'all') continue
        const items = ITEMS[kind](h)
        await h.cache('/a/1', ['t-a1', 't-a'])
        await h.cache('/a/2', ['t-a2', 't-a'])
        await h.purger.purge({ kind, items, soft: true })
        const target = kind === 'tags' ? '/a/1' : '/a/2'
        // A soft-purged object may be served stale once while it is refetched: wait for the refetch.
        await until(() => h.purged(target), `${kind} soft purge of ${target} to reach the origin`, 30_000, 100)
        expect(await h.purged('/b/1')).toBe(false)
      }
    })

    it('refuses more items than one request takes, before sending anything', async () => {
      const kind = h.purger.capabilities.kinds.find((k): k is Exclude<PurgeKind, 'all'> => k !== 'all')!
      const max = h.purger.limits.itemsPerRequest[kind]
      const before = h.requestCount?.()
      const error = await h.purger.purge({ kind, items: Array.from({ length: max + 1 }, (_, i) => kind === 'tags' ? `k${i}` : `/x/${i}`), soft: false }).catch((e: unknown) => e)
      expect(isTierCacheError(error, 'E_CDN_UNSUPPORTED')).toBe(true)
      if (before !== undefined) expect(h.requestCount?.()).toBe(before)
    })

    it('takes a full batch in one request', async () => {
      const kind = h.purger.capabilities.kinds.find((k): k is Exclude<PurgeKind, 'all'> => k !== 'all')!
      const max = Math.min(h.purger.limits.itemsPerRequest[kind], 3_000)
      const before = h.requestCount?.()
      const items = Array.from({ length: max }, (_, i) => kind === 'tags' ? `t-a1-${i}` : `/a/1-${i}`)
      items[0] = kind === 'tags' ? 't-a1' : kind === 'urls' ? '/a/1' : '/a/'
      await h.purger.purge({ kind, items, soft: false })
      expect(await h.purged('/a/1')).toBe(true)
      if (before !== undefined) expect(h.requestCount?.()).toBe(before + 1)
    })

    it('reports an unreachable provider as a retryable failure', async () => {
      const purger = h.unreachable()
      const kind = purger.capabilities.kinds[0]!
      const error = await purger.purge({ kind, items: kind === 'all' ? [] : ITEMS[kind](h), soft: false }).catch((e: unknown) => e)
      await purger.close()
      expect(error).toBeInstanceOf(CdnPurgeError)
      expect((error as CdnPurgeError).code).toBe('E_CDN_PURGE_FAILED')
      expect((error as CdnPurgeError).retryable).toBe(true)
    })

    it('reports refused credentials as a failure that retrying cannot fix', async () => {
      if (h.refusedCredentials === undefined) return
      const purger = h.refusedCredentials()
      const kind = purger.capabilities.kinds[0]!
      const error = await purger.purge({ kind, items: kind === 'all' ? [] : ITEMS[kind](h), soft: false }).catch((e: unknown) => e)
      await purger.close()
      expect(error).toBeInstanceOf(CdnPurgeError)
      expect((error as CdnPurgeError).retryable).toBe(false)
    })
  })
}

async function expectUnsupported(h: CdnHarness, kind: PurgeKind): Promise<void> {
  const before = h.requestCount?.()
  const error = await h.purger.purge({ kind, items: kind === 'all' ? [] : ['/a/1'], soft: false }).catch((e: unknown) => e)
  expect(isTierCacheError(error, 'E_CDN_UNSUPPORTED')).toBe(true)
  if (before !== undefined) expect(h.requestCount?.()).toBe(before)
}
