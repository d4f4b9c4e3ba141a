import { describe, expect, it } from 'vitest'
import { createStateCache, isQuotaError, STATE_FORMAT_VERSION } from '../../src/client/state-cache.js'
import type { StateBackend } from '../../src/client/state-cache.js'

/**
 * An in-memory backend with a quota, failing as browsers do when full (a DOMException named
 * QuotaExceededError): localStorage and IndexedDB cannot run under Node, the logic above them can.
 */
class QuotaBackend implements StateBackend {
  readonly map = new Map<string, string>()
  constructor(public quota = Infinity) {}
  get used(): number {
    let n = 0
    for (const [k, v] of this.map) n += k.length + v.length
    return n
  }
  get(key: string): Promise<string | undefined> { return Promise.resolve(this.map.get(key)) }
  set(key: string, value: string): Promise<void> {
    const old = this.map.get(key)
    const after = this.used - (old === undefined ? 0 : key.length + old.length) + key.length + value.length
    if (after > this.quota) return Promise.reject(new DOMException('full', 'QuotaExceededError'))
    this.map.set(key, value)
    return Promise.resolve()
  }
  delete(key: string): Promise<void> { this.map.delete(key); return Promise.resolve() }
  keys(): Promise<string[]> { return Promise.resolve([...this.map.keys()]) }
}

function setup(quota = Infinity) {
  let now = 1_000_000
  const backend = new QuotaBackend(quota)
  const cache = createStateCache({ backend, namespace: 'test', ttl: 60_000, now: () => now })
  return { backend, cache, advance: (ms: number) => { now += ms } }
}

describe('state cache (localStorage / IndexedDB) logic', () => {
  it('answers a value until its TTL passes, then removes it', async () => {
    const { cache, backend, advance } = setup()
    expect(await cache.set('cart', { items: [1, 2] }, { ttl: 1000 })).toEqual({ stored: true, evicted: 0 })
    expect(await cache.get<{ items: number[] }>('cart')).toEqual({ items: [1, 2] })
    advance(999)
    expect(await cache.get('cart')).toEqual({ items: [1, 2] })
    advance(1)
    expect(await cache.get('cart')).toBeUndefined()
    expect(backend.map.size).toBe(0)
  })

  it('invalidateTags drops every entry of the tag, and entries stored after it live', async () => {
    const { cache } = setup()
    await cache.set('p1', 1, { tags: ['product:1', 'products'] })
    await cache.set('p2', 2, { tags: ['product:2', 'products'] })
    await cache.invalidateTags(['product:1'])
    expect(await cache.get('p1')).toBeUndefined()
    expect(await cache.get('p2')).toBe(2)
    await cache.invalidateTags(['products'])
    expect(await cache.get('p2')).toBeUndefined()
    await cache.set('p2', 3, { tags: ['products'] })
    expect(await cache.get('p2')).toBe(3)
  })

  it('writes its format version into every key and record, and drops records of another version', async () => {
    const { cache, backend } = setup()
    await cache.set('k', 'v')
    const [key] = [...backend.map.keys()]
    expect(key).toBe(`tiercache:${STATE_FORMAT_VERSION}:test:e:k`)
    expect(JSON.parse(backend.map.get(key!)!)).toMatchObject({ v: STATE_FORMAT_VERSION, value: 'v' })
    // A record this build cannot read: ignored and removed, never misread.
    backend.map.set(key!, JSON.stringify({ v: 99, value: 'from the future', storedAt: 0, expiresAt: Number.MAX_SAFE_INTEGER, tags: {} }))
    backend.map.set('tiercache:0:test:e:k', '{"old":true}')
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.prune()).toBe(1)
    expect([...backend.map.keys()]).toEqual([])
  })

  it('when the store is full, prunes the dead, then evicts its oldest entries, and says so', async () => {
    const { cache, backend, advance } = setup(600)
    await cache.set('expiring', 'x'.repeat(100), { ttl: 10 })
    advance(1)
    await cache.set('old', 'x'.repeat(100))
    advance(1)
    await cache.set('newer', 'x'.repeat(100))
    advance(20)
    const result = await cache.set('big', 'y'.repeat(150))
    expect(result.stored).toBe(true)
    // The expired one went first, then the oldest live one.
    expect(await cache.get('expiring')).toBeUndefined()
    expect(await cache.get('old')).toBeUndefined()
    expect(await cache.get('newer')).toBe('x'.repeat(100))
    expect(await cache.get('big')).toBe('y'.repeat(150))
    expect(backend.used).toBeLessThanOrEqual(600)
  })

  it('answers stored: false (never throws) when even an empty store cannot hold the value', async () => {
    const { cache } = setup(200)
    await cache.set('small', 1)
    expect(await cache.set('huge', 'z'.repeat(1000))).toEqual({ stored: false, reason: 'quota' })
  })

  it('refuses bad keys, tags, TTLs and values with typed errors', async () => {
    const { cache } = setup()
    await expect(cache.set('', 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await expect(cache.set('k', 1, { tags: ['a b'] })).rejects.toMatchObject({ code: 'E_INVALID_TAG' })
    await expect(cache.set('k', 1, { ttl: -5 })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    await expect(cache.set('k', undefined)).rejects.toMatchObject({ code: 'E_VALUE_NOT_SERIALIZABLE' })
    await expect(cache.set('k', 10n)).rejects.toMatchObject({ code: 'E_VALUE_NOT_SERIALIZABLE' })
    await expect(cache.invalidateTags(['a,b'])).rejects.toMatchObject({ code: 'E_INVALID_TAG' })
    expect(() => createStateCache({ backend: new QuotaBackend(), namespace: 'has space' })).toThrow(/namespace/)
  })

  it('recognises quota errors by name and by the legacy codes', () => {
    expect(isQuotaError(new DOMException('x', 'QuotaExceededError'))).toBe(true)
    expect(isQuotaError({ name: 'NS_ERROR_DOM_QUOTA_REACHED' })).toBe(true)
    expect(isQuotaError({ code: 22 })).toBe(true)
    expect(isQuotaError(new Error('other'))).toBe(false)
    expect(isQuotaError(null)).toBe(false)
  })
})
