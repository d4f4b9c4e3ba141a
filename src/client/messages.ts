import { isTag } from './tag-index.js'

/**
 * Wire formats of the client layer, each versioned (`v`):
 * - page -> service worker (`postMessage`, answered on the `MessagePort` sent with it);
 * - server -> page: the data of the event stream's `invalidate` and `resync` events.
 */
export const CLIENT_MESSAGE_VERSION = 1

/** What the page asks the service worker. */
export type WorkerRequest =
  | { readonly type: 'tiercache:invalidate'; readonly v: 1; readonly tags: readonly string[] }
  | { readonly type: 'tiercache:resync'; readonly v: 1 }
  | { readonly type: 'tiercache:stats'; readonly v: 1 }

/** The service worker's Cache Storage, as `tiercache:stats` reports it. */
export interface WorkerStats {
  readonly cacheName: string
  readonly maxBytes: number
  readonly bytes: number
  readonly entries: number
  readonly tagged: number
  readonly evictions: number
  readonly expirations: number
  readonly invalidated: number
  readonly refusedTooLarge: number
}

/** What the service worker answers. */
export type WorkerReply =
  | { readonly type: 'tiercache:dropped'; readonly v: 1; readonly urls: readonly string[] }
  | { readonly type: 'tiercache:stats'; readonly v: 1; readonly stats: WorkerStats }
  | { readonly type: 'tiercache:error'; readonly v: 1; readonly error: string }

/** A request from a page, or undefined when `data` is not one this version understands (it is ignored). */
export function parseWorkerRequest(data: unknown): WorkerRequest | undefined {
  const m = data as { type?: unknown; v?: unknown; tags?: unknown } | null
  if (m === null || typeof m !== 'object' || m.v !== CLIENT_MESSAGE_VERSION) return undefined
  switch (m.type) {
    case 'tiercache:invalidate':
      return Array.isArray(m.tags) && m.tags.length <= 256 && m.tags.every(isTag) ? { type: m.type, v: 1, tags: m.tags } : undefined
    case 'tiercache:resync':
    case 'tiercache:stats':
      return { type: m.type, v: 1 }
    default:
      return undefined
  }
}

/** The data of an `invalidate` event: the subscribed tags that were invalidated. */
export interface InvalidateEvent {
  readonly v: 1
  readonly tags: readonly string[]
  /** The source version of the change (the row's version), when the invalidation carried one. */
  readonly version?: number
  /** When the invalidation was published, epoch ms of the publisher's clock. */
  readonly at: number
}

/** The data of a `resync` event: invalidations may have been missed; drop everything subscribed. */
export interface ResyncEvent {
  readonly v: 1
  readonly reason: string
}

export function parseInvalidateEvent(text: string): InvalidateEvent | undefined {
  const e = parseJson(text) as { v?: unknown; tags?: unknown; version?: unknown; at?: unknown } | undefined
  if (e === undefined || e.v !== CLIENT_MESSAGE_VERSION || !Array.isArray(e.tags) || !e.tags.every(isTag) || typeof e.at !== 'number') return undefined
  return { v: 1, tags: e.tags, at: e.at, ...(typeof e.version === 'number' ? { version: e.version } : {}) }
}

export function parseResyncEvent(text: string): ResyncEvent | undefined {
  const e = parseJson(text) as { v?: unknown; reason?: unknown } | undefined
  if (e === undefined || e.v !== CLIENT_MESSAGE_VERSION) return undefined
  return { v: 1, reason: typeof e.reason === 'string' ? e.reason : 'unknown' }
}

function parseJson(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' ? value : undefined
  } catch {
    return undefined
  }
}
