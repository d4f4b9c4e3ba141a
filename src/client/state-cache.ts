import { ClientError } from './client-errors.js'
import { isTag } from './tag-index.js'

/** Storage format version, written into every key and record; records of another version are dropped, never misread. */
export const STATE_FORMAT_VERSION = 1
const MAX_KEY_LENGTH = 512
const MAX_TAGS = 32

/**
 * Where the state cache keeps its records: strings under string keys. `localStorageBackend` and
 * `indexedDbBackend` (./storage-backends.js) adapt the browser's stores; tests pass a map.
 * `set` throws the store's own error when it is full (a `QuotaExceededError` DOMException).
 */
export interface StateBackend {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
  delete(key: string): Promise<void>
  /** Every key the backend holds (the cache filters its own by prefix). */
  keys(): Promise<string[]>
}

/** Options of {@link createStateCache}. */
export interface StateCacheOptions {
  readonly backend: StateBackend
  /** Separates caches sharing one origin's storage. Default `app`. */
  readonly namespace?: string
  /** Default freshness, ms. Default 5 minutes. */
  readonly ttl?: number
  /** Epoch ms; injected for tests. Default `Date.now`. */
  readonly now?: () => number
}

/** Per-call options of {@link StateCache.set}. */
export interface StateSetOptions {
  /** Freshness, ms. */
  readonly ttl?: number
  readonly tags?: readonly string[]
}

/** What `set` reports: stored, or why not. */
export type StateSetResult = { readonly stored: true; readonly evicted: number } | { readonly stored: false; readonly reason: 'quota' }

/** A small typed cache for application state, with TTL and tags (see {@link createStateCache}). */
export interface StateCache {
  get<T>(key: string): Promise<T | undefined>
  set(key: string, value: unknown, options?: StateSetOptions): Promise<StateSetResult>
  delete(key: string): Promise<void>
  /** Every entry carrying one of `tags` is gone for every later `get` (O(1) per tag: a version bump). */
  invalidateTags(tags: readonly string[]): Promise<void>
  /** Removes expired entries, entries of invalidated tags and records of other format versions; answers how many. */
  prune(): Promise<number>
}

/** One stored record (format version 1). */
interface Envelope {
  readonly v: number
  readonly value: unknown
  readonly storedAt: number
  readonly expiresAt: number
  /** Each tag with its version when the entry was stored. */
  readonly tags: Readonly<Record<string, number>>
}

/** True when `error` is a storage-full error (the standard name, and the codes older engines used). */
export function isQuotaError(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null
  return e !== null && typeof e === 'object' &&
    (e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED' || e.code === 22 || e.code === 1014)
}

/**
 * A typed cache for application state over localStorage or IndexedDB: entries expire after their
 * TTL, carry tags, and `invalidateTags` drops every entry of a tag by raising the tag's version
 * (entries remember the versions they were stored with, as the server-side core does).
 *
 * When the store is full, `set` first prunes what is dead (expired, invalidated), then evicts
 * this cache's oldest entries one by one, and answers `{ stored: false, reason: 'quota' }` if the
 * value still does not fit; it never throws for a full store. Keys are `tiercache:1:<namespace>:e:<key>`
 * and `...:t:<tag>`: the format version is part of every key and record.
 */
export function createStateCache(options: StateCacheOptions): StateCache {
  const backend = options.backend
  const namespace = options.namespace ?? 'app'
  if (typeof namespace !== 'string' || !/^[\w.-]{1,64}$/.test(namespace)) {
    throw new ClientError('E_INVALID_OPTION', `namespace must be 1 to 64 letters, digits, '_', '.' or '-', got ${JSON.stringify(namespace)}`)
  }
  const defaultTtl = checkTtl(options.ttl ?? 5 * 60_000)
  const now = options.now ?? Date.now
  const root = `tiercache:${STATE_FORMAT_VERSION}:${namespace}:`
  const entryKey = (key: string): string => `${root}e:${checkKey(key)}`
  const tagKey = (tag: string): string => `${root}t:${tag}`

  const tagVersion = async (tag: string): Promise<number> => {
    const raw = await backend.get(tagKey(tag))
    const n = raw === undefined ? 0 : Number(raw)
    return Number.isSafeInteger(n) ? n : 0
  }

  /** The live envelope at `storageKey`, or undefined (and the dead record removed). */
  const read = async (storageKey: string): Promise<Envelope | undefined> => {
    const raw = await backend.get(storageKey)
    if (raw === undefined) return undefined
    const envelope = parseEnvelope(raw)
    let dead = envelope === undefined || envelope.expiresAt <= now()
    if (!dead) {
      for (const [tag, version] of Object.entries(envelope!.tags)) {
        if ((await tagVersion(tag)) > version) {
          dead = true
          break
        }
      }
    }
    if (dead) {
      await backend.delete(storageKey).catch(() => {})
      return undefined
    }
    return envelope
  }

  const prune = async (): Promise<number> => {
    let removed = 0
    for (const key of await backend.keys()) {
      if (key.startsWith(`${root}e:`)) {
        if ((await read(key)) === undefined) removed++
      } else if (key.startsWith('tiercache:') && !key.startsWith(`tiercache:${STATE_FORMAT_VERSION}:`)) {
        // Another format version's record: unreadable to this build, and it takes room.
        await backend.delete(key).catch(() => {})
        removed++
      }
    }
    return removed
  }

  /** This cache's live entries, oldest first (for eviction when the store is full). */
  const oldestFirst = async (): Promise<string[]> => {
    const stamped: { key: string; at: number }[] = []
    for (const key of await backend.keys()) {
      if (!key.startsWith(`${root}e:`)) continue
      const raw = await backend.get(key)
      stamped.push({ key, at: raw === undefined ? 0 : (parseEnvelope(raw)?.storedAt ?? 0) })
    }
    return stamped.sort((a, b) => a.at - b.at).map((s) => s.key)
  }

  return {
    async get<T>(key: string): Promise<T | undefined> {
      return (await read(entryKey(key)))?.value as T | undefined
    },

    async set(key, value, setOptions = {}) {
      const storageKey = entryKey(key)
      const ttl = setOptions.ttl === undefined ? defaultTtl : checkTtl(setOptions.ttl)
      const tags = checkTags(setOptions.tags ?? [])
      const versions: Record<string, number> = {}
      for (const tag of tags) versions[tag] = await tagVersion(tag)
      const at = now()
      const text = serialize({ v: STATE_FORMAT_VERSION, value, storedAt: at, expiresAt: at + ttl, tags: versions })
      let evicted = 0
      let victims: string[] | undefined
      for (;;) {
        try {
          await backend.set(storageKey, text)
          return { stored: true, evicted }
        } catch (error) {
          if (!isQuotaError(error)) throw error
        }
        // Full: first what is dead anyway, then this cache's oldest entries, one at a time.
        if (victims === undefined) {
          evicted += await prune()
          victims = (await oldestFirst()).filter((k) => k !== storageKey)
          continue
        }
        const victim = victims.shift()
        if (victim === undefined) return { stored: false, reason: 'quota' }
        await backend.delete(victim).catch(() => {})
        evicted++
      }
    },

    async delete(key) {
      await backend.delete(entryKey(key))
    },

    async invalidateTags(tags) {
      for (const tag of new Set(checkTags(tags))) {
        const next = String((await tagVersion(tag)) + 1)
        try {
          await backend.set(tagKey(tag), next)
        } catch (error) {
          if (!isQuotaError(error)) throw error
          // A version that cannot be written would leave stale entries readable: make room and retry once.
          await prune()
          for (const victim of await oldestFirst()) {
            await backend.delete(victim).catch(() => {})
            try {
              await backend.set(tagKey(tag), next)
              break
            } catch (again) {
              if (!isQuotaError(again)) throw again
            }
          }
        }
      }
    },

    prune,
  }
}

function checkTags(tags: unknown): readonly string[] {
  if (!Array.isArray(tags) || tags.length > MAX_TAGS) throw new ClientError('E_INVALID_OPTION', `tags must be an array of at most ${MAX_TAGS} tags`)
  for (const tag of tags as unknown[]) if (!isTag(tag)) throw new ClientError('E_INVALID_TAG', `tag ${JSON.stringify(tag)} is not 1 to 200 visible ASCII characters without a comma`)
  return tags as string[]
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ClientError('E_INVALID_KEY', `key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`)
  }
  return key
}

function checkTtl(ttl: unknown): number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new ClientError('E_INVALID_OPTION', `ttl must be a positive integer of milliseconds, got ${JSON.stringify(ttl)}`)
  }
  return ttl
}

function serialize(envelope: Envelope): string {
  if (typeof envelope.value === 'function' || typeof envelope.value === 'symbol') {
    throw new ClientError('E_VALUE_NOT_SERIALIZABLE', `a ${typeof envelope.value} cannot be stored as JSON`)
  }
  if (envelope.value === undefined) throw new ClientError('E_VALUE_NOT_SERIALIZABLE', 'undefined cannot be stored; use null to store the absence of a value')
  try {
    return JSON.stringify(envelope)
  } catch (error) {
    throw new ClientError('E_VALUE_NOT_SERIALIZABLE', `the value cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
}

function parseEnvelope(raw: string): Envelope | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return undefined
  }
  const e = parsed as Partial<Envelope> | null
  if (e === null || typeof e !== 'object' || e.v !== STATE_FORMAT_VERSION || typeof e.expiresAt !== 'number' || typeof e.storedAt !== 'number' ||
    typeof e.tags !== 'object' || e.tags === null || !('value' in e)) return undefined
  return e as Envelope
}
