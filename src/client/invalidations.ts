import { ClientError } from './client-errors.js'
import { CLIENT_MESSAGE_VERSION, parseInvalidateEvent, parseResyncEvent } from './messages.js'
import type { StateCache } from './state-cache.js'
import { isTag } from './tag-index.js'
import { askWorker, dropTagsInWorker } from './worker-link.js'

/** What the page is told after an invalidation reached it (and the caches were emptied of it). */
export interface InvalidationDetail {
  /** The subscribed tags that were invalidated. */
  readonly tags: readonly string[]
  /** The source version of the change, when known: refetch until what you read is at least this. */
  readonly version?: number
  /** When the server published it, epoch ms of its clock. */
  readonly at: number
  /** URLs the service worker dropped. */
  readonly dropped: readonly string[]
}

/** Options of {@link subscribeInvalidations}. */
export interface SubscribeOptions {
  /** Tags to hear about (at most what the server allows per subscriber: 32 by default). */
  readonly tags: readonly string[]
  /** The event stream's URL. Default `/_tiercache/events`. */
  readonly url?: string
  /** Called after the caches dropped the entries of an invalidation. */
  readonly onInvalidate?: (detail: InvalidationDetail) => void
  /** Called after a resync: invalidations may have been missed, every tagged entry was dropped. Reload what you show. */
  readonly onResync?: (reason: string) => void
  /** Connection state: `live` once subscribed, `reconnecting` while the browser retries. */
  readonly onState?: (state: 'live' | 'reconnecting') => void
  /** Also invalidate these tags in this state cache. */
  readonly stateCache?: StateCache
}

/** A live subscription; `close()` ends it. */
export interface InvalidationSubscription {
  readonly tags: readonly string[]
  close(): void
}

/**
 * Follows the server's invalidation stream (Server-Sent Events) for `tags`. On each invalidation
 * it drops the matching responses from the service worker's Cache Storage and from `stateCache`,
 * then tells the page: `onInvalidate`, and a `tiercache:invalidated` event on `window` whose
 * `detail` is the {@link InvalidationDetail}. In that order, so that what the page fetches when
 * told comes from the network, not from a copy about to be dropped.
 *
 * The browser reconnects by itself and sends the last event id: the server replays what was
 * missed or, when it cannot, sends a resync (everything tagged is dropped, `onResync` is called).
 * When the server refuses the stream (429 when it holds its maximum of streams) the browser gives
 * up; this retries with capped back-off and resyncs once connected again.
 */
export function subscribeInvalidations(options: SubscribeOptions): InvalidationSubscription {
  if (typeof EventSource === 'undefined') throw new ClientError('E_UNSUPPORTED', 'this browser has no EventSource')
  const tags = [...new Set(options.tags)]
  if (tags.length === 0) throw new ClientError('E_INVALID_OPTION', 'tags must name at least one tag')
  for (const tag of tags) if (!isTag(tag)) throw new ClientError('E_INVALID_TAG', `tag ${JSON.stringify(tag)} is not 1 to 200 visible ASCII characters without a comma`)
  // The tags in the path, not the query: proxies and CDNs often drop query strings (the tiercache
  // edge's default behavior does outside /api/*).
  const url = new URL(`${options.url ?? '/_tiercache/events'}/${tags.map(encodeURIComponent).join(',')}`, location.href)
  // Events are handled one at a time, in order: a resync must not overtake an invalidation.
  let chain: Promise<void> = Promise.resolve()
  const serially = (work: () => Promise<void>): void => {
    chain = chain.then(work).catch((error: unknown) => { console.error('tiercache: could not apply an invalidation', error) })
  }
  const resync = (reason: string): void => serially(async () => {
    await askWorker({ type: 'tiercache:resync', v: CLIENT_MESSAGE_VERSION })
    await options.stateCache?.invalidateTags(tags)
    options.onResync?.(reason)
    window.dispatchEvent(new CustomEvent('tiercache:resync', { detail: { reason } }))
  })

  let source: EventSource | undefined
  let closed = false
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let failures = 0
  /** Set when a new connection cannot resume the old one: what was missed in between is unknown. */
  let missedSome = false
  const connect = (): void => {
    const current = new EventSource(url)
    source = current
    current.addEventListener('ready', () => {
      failures = 0
      options.onState?.('live')
      if (missedSome) {
        missedSome = false
        resync('reconnected')
      }
    })
    current.addEventListener('error', () => {
      if (closed) return
      options.onState?.('reconnecting')
      // The browser retries by itself (sending Last-Event-ID: the server replays or resyncs) unless
      // the answer was a refusal (429 when the server is full, a 5xx) or not an event stream: then
      // it gives up. Retry with capped, jittered back-off; a new connection has no last event id, so
      // it resyncs once live.
      if (current.readyState !== EventSource.CLOSED) return
      missedSome = true
      const delay = Math.min(30_000, 1000 * 2 ** failures++) * (0.5 + Math.random() / 2)
      retryTimer = setTimeout(connect, delay)
    })
    current.addEventListener('invalidate', (event: MessageEvent<string>) => {
      const data = parseInvalidateEvent(event.data)
      if (data === undefined) return
      serially(async () => {
        const dropped = await dropTagsInWorker(data.tags)
        await options.stateCache?.invalidateTags(data.tags)
        const detail: InvalidationDetail = { tags: data.tags, at: data.at, dropped, ...(data.version === undefined ? {} : { version: data.version }) }
        options.onInvalidate?.(detail)
        window.dispatchEvent(new CustomEvent('tiercache:invalidated', { detail }))
      })
    })
    current.addEventListener('resync', (event: MessageEvent<string>) => {
      const data = parseResyncEvent(event.data)
      if (data !== undefined) resync(data.reason)
    })
  }
  connect()
  return {
    tags,
    close: () => {
      closed = true
      clearTimeout(retryTimer)
      source?.close()
    },
  }
}
