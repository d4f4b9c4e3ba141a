/**
 * The invalidation bus port: an ordered stream of invalidations that every node of a namespace
 * follows (app caches drop L1 entries, edges purge). Adapters: `MemoryBus` (one process) and the
 * Redis Streams bus (`tiercache/redis`).
 *
 * Contract:
 * - every subscriber, including the publisher's own, receives every message published after it
 *   subscribed, in publish order (subscribers skip their own by `origin` when they applied it already);
 * - when the adapter cannot prove a subscriber saw every message (connection lost, stream trimmed
 *   past its cursor, server restarted), it calls `onGap` before delivering anything newer, and the
 *   subscriber must flush or fence whatever it caches;
 * - `publish` resolves once the message is durable in the stream (it will be delivered).
 */
export interface InvalidationMessage {
  /** Cache keys to drop (app caches). */
  readonly keys?: readonly string[] | undefined
  /** Tags invalidated, with the tag versions they now have (same order), when the adapter versions tags. */
  readonly tags?: readonly string[] | undefined
  readonly tagVersions?: readonly number[] | undefined
  /** Edge: exact URLs (cache keys of the edge) to purge. */
  readonly urls?: readonly string[] | undefined
  /** Edge: URL path prefixes to purge. */
  readonly prefixes?: readonly string[] | undefined
  /**
   * App caches: drop every key starting with one of these (`invalidatePrefix`). Messages that carry
   * them are written in format version {@link BUS_FORMAT_VERSION_KEY_PREFIXES}.
   */
  readonly keyPrefixes?: readonly string[] | undefined
  /** Drop everything the namespace caches. */
  readonly clear?: boolean | undefined
  /** Soft purge: mark stale (keep for stale-if-error) instead of removing. */
  readonly soft?: boolean | undefined
  /** Source version (commit position) of the change, when known. */
  readonly version?: number | undefined
  /** Id of the publishing node. */
  readonly origin: string
  /** Publish time, epoch ms (for propagation-latency measurement only; never for ordering). */
  readonly at: number
}

/** A message as delivered, with its position in the stream. */
export interface DeliveredMessage extends InvalidationMessage {
  /** Stream position (opaque, increasing). */
  readonly id: string
}

/** What a subscriber is told. */
export interface BusListener {
  onMessage(message: DeliveredMessage): void
  /** Messages may have been missed: flush or fence caches before serving from them again. */
  onGap(reason: string): void
  /** Connection state; while `disconnected`, invalidations may be arriving late. */
  onState?(state: 'connected' | 'disconnected'): void
}

/** What `publish` reports. */
export interface PublishReceipt {
  /** Stream position of the message. */
  readonly id: string
  /**
   * New versions of `message.tags` (same order), when the adapter versions tags (Redis: bumped in
   * the same atomic step as the append, so no reader sees the message before the versions).
   */
  readonly tagVersions?: readonly number[] | undefined
}

export interface InvalidationBus {
  readonly name: string
  publish(message: InvalidationMessage): Promise<PublishReceipt>
  /**
   * Current versions of tags (0 for never invalidated), when the bus versions tags itself. A node
   * that meets a tag it has not heard of asks here (or the L2 store) before trusting an entry.
   */
  tagVersions?(tags: readonly string[]): Promise<number[]>
  subscribe(listener: BusListener): () => void
  close(): Promise<void>
}

/** Bus wire format version; every adapter writes it into each message. */
export const BUS_FORMAT_VERSION = 1
/**
 * Version 1 plus `keyPrefixes`, written only on messages that carry key prefixes: a node built
 * before prefixes existed reads such a message as an unknown format, which it treats as a gap (it
 * flushes L1), instead of ignoring the prefixes and keeping the entries.
 */
export const BUS_FORMAT_VERSION_KEY_PREFIXES = 2
