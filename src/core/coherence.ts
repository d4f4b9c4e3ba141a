import { randomBytes } from 'node:crypto'
import type { Clock, TimerHandle } from '../ports/clock.js'
import { GenerationGuard } from './generation-guard.js'
import type { Logger } from '../ports/logger.js'
import { TagRegistry } from './tag-registry.js'
import { channels } from './telemetry.js'
import { TierGuard } from './tier-guard.js'
import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from '../ports/bus.js'

/** What coherence asks of the cache it serves. */
export interface CoherenceHost {
  /** Drops keys from L1 (an invalidation from another node). */
  dropL1(keys: readonly string[]): void
  /** Drops everything from L1 (a gap, a disconnect, a clear). */
  flushL1(reason: string): void
  /** Re-applies an invalidation to the shared tier (a retry after a failure). */
  invalidateShared(keys: readonly string[], version: number | undefined): Promise<boolean>
}

/** An invalidation not yet confirmed by the shared tier and the bus. */
interface Pending {
  readonly message: InvalidationMessage
  readonly keys: readonly string[]
  attempts: number
}

const MAX_PENDING = 10_000

/**
 * Keeps one cache coherent with the others of its namespace:
 * - applies invalidations from the bus to L1 (keys dropped, tag versions raised);
 * - flushes L1 on a bus gap;
 * - fences L1 while the bus is disconnected (and before it first connects): entries written then
 *   get at most `fencedTtl` of freshness, and if the bus is not back within `fencedTtl`, L1 is
 *   flushed. A blip shorter than that costs nothing (the follower resumes from its cursor and
 *   replays what it missed); a longer outage bounds staleness to detection + `fencedTtl`;
 * - publishes this node's invalidations, and keeps the ones that failed in an outbox it retries
 *   with back-off until the shared tier and the bus confirm them (none is dropped silently: an
 *   overflowing outbox is logged, and the L1 hard TTL cap bounds what it could leave behind).
 */
export class Coherence implements BusListener {
  readonly nodeId = randomBytes(8).toString('hex')
  readonly tags = new TagRegistry()
  readonly generations = new GenerationGuard()
  readonly #host: CoherenceHost
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #namespace: string
  readonly #fencedTtl: number
  readonly #guard: TierGuard
  #bus: InvalidationBus | undefined
  #unsubscribe: (() => void) | undefined
  #fencedSince = 0
  #outbox: Pending[] = []
  /** Keys whose shared-tier invalidation is still in the outbox: L2 may hold their old value. */
  readonly #pendingKeys = new Map<string, number>()
  #retryTimer: TimerHandle = undefined
  #fenceTimer: TimerHandle = undefined
  #closed = false

  constructor(options: { host: CoherenceHost; clock: Clock; logger: Logger; namespace: string; fencedTtl: number; publishTimeout: number }) {
    this.#host = options.host
    this.#clock = options.clock
    this.#logger = options.logger
    this.#namespace = options.namespace
    this.#fencedTtl = options.fencedTtl
    this.#guard = new TierGuard('invalidation bus', {
      timeoutMs: options.publishTimeout, threshold: 5, cooldownMs: 1_000, clock: options.clock, logger: options.logger,
    })
  }

  /**
   * Fences L1 until a bus connects: a cache that will follow a bus must not hold long-lived L1
   * entries it filled before it could hear invalidations.
   */
  expectBus(): void {
    if (this.#fencedSince === 0) this.#fencedSince = this.#clock.now()
  }

  /** Starts following a bus. */
  attach(bus: InvalidationBus): void {
    if (this.#closed) return
    this.expectBus()
    this.#bus = bus
    this.#unsubscribe = bus.subscribe(this)
  }

  get bus(): InvalidationBus | undefined {
    return this.#bus
  }

  /** While fenced, L1 entries are written with at most `fencedTtl` of freshness. */
  get fencedUntil(): number {
    return this.#fencedSince === 0 ? Number.POSITIVE_INFINITY : this.#clock.now() + this.#fencedTtl
  }

  get fenced(): boolean {
    return this.#fencedSince !== 0
  }

  get pendingInvalidations(): number {
    return this.#outbox.length
  }

  /** True while an invalidation of `key` has not reached L2: its L2 value must not be trusted. */
  isPending(key: string): boolean {
    return this.#pendingKeys.size > 0 && this.#pendingKeys.has(key)
  }

  /**
   * Publishes an invalidation this node already applied locally. Resolves with the receipt, or
   * undefined when the bus failed (the message then waits in the outbox and is retried).
   */
  async publish(message: Omit<InvalidationMessage, 'origin' | 'at'>, sharedKeys: readonly string[] = []): Promise<PublishReceipt | undefined> {
    const bus = this.#bus
    if (bus === undefined) return undefined
    const full: InvalidationMessage = { ...message, origin: this.nodeId, at: this.#clock.now() }
    const receipt = await this.#guard.run(() => bus.publish(full), undefined)
    if (receipt === undefined) this.#enqueue({ message: full, keys: sharedKeys, attempts: 0 })
    return receipt
  }

  /** Queues an invalidation whose shared-tier step failed (the bus step is redone too). */
  retryLater(message: Omit<InvalidationMessage, 'origin' | 'at'>, sharedKeys: readonly string[]): void {
    this.#enqueue({ message: { ...message, origin: this.nodeId, at: this.#clock.now() }, keys: sharedKeys, attempts: 0 })
  }

  onMessage(message: DeliveredMessage): void {
    if (message.origin === this.nodeId) return
    if (message.clear === true) {
      this.#host.flushL1('clear')
      return
    }
    if (message.keys !== undefined && message.keys.length > 0) this.#host.dropL1(message.keys)
    const tags = message.tags
    const versions = message.tagVersions
    if (tags !== undefined) {
      for (let i = 0; i < tags.length; i++) {
        const v = versions?.[i]
        if (v !== undefined) this.tags.observe(tags[i] as string, v)
        else this.tags.bump(tags[i] as string)
      }
    }
    if (channels.invalidated.hasSubscribers) {
      channels.invalidated.publish({ namespace: this.#namespace, at: message.at, keys: message.keys, tags: message.tags })
    }
  }

  onGap(reason: string): void {
    this.#host.flushL1(`bus gap: ${reason}`)
  }

  onState(state: 'connected' | 'disconnected'): void {
    if (channels.tier.hasSubscribers) channels.tier.publish({ namespace: this.#namespace, tier: 'bus', state })
    if (state === 'disconnected') {
      if (this.#fencedSince === 0) this.#fencedSince = this.#clock.now()
      if (this.#fenceTimer === undefined) {
        this.#fenceTimer = this.#clock.setTimeout(() => {
          this.#fenceTimer = undefined
          if (this.#fencedSince !== 0) this.#host.flushL1('bus disconnected for longer than fencedTtl')
        }, this.#fencedTtl)
      }
    } else {
      this.#fencedSince = 0
      if (this.#fenceTimer !== undefined) this.#clock.clearTimeout(this.#fenceTimer)
      this.#fenceTimer = undefined
      if (this.#outbox.length > 0) this.#scheduleRetry(0)
    }
  }

  close(): void {
    this.#closed = true
    this.#unsubscribe?.()
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer)
    if (this.#fenceTimer !== undefined) this.#clock.clearTimeout(this.#fenceTimer)
    this.#guard.close()
    if (this.#outbox.length > 0) {
      this.#logger.error({ pending: this.#outbox.length }, 'closing with invalidations not confirmed by Redis; other nodes rely on their L1 TTL cap for them')
    }
    this.#outbox = []
    this.#pendingKeys.clear()
  }

  #enqueue(pending: Pending): void {
    if (this.#closed) return
    if (this.#outbox.length >= MAX_PENDING) {
      this.#release(this.#outbox.shift() as Pending)
      this.#logger.error({}, `invalidation outbox full (${MAX_PENDING}); dropped the oldest: other nodes rely on their L1 TTL cap for it`)
    }
    for (const key of pending.keys) this.#pendingKeys.set(key, (this.#pendingKeys.get(key) ?? 0) + 1)
    this.#outbox.push(pending)
    this.#scheduleRetry(100)
  }

  #release(pending: Pending): void {
    for (const key of pending.keys) {
      const n = (this.#pendingKeys.get(key) ?? 1) - 1
      if (n <= 0) this.#pendingKeys.delete(key)
      else this.#pendingKeys.set(key, n)
    }
  }

  #scheduleRetry(delay: number): void {
    if (this.#retryTimer !== undefined || this.#closed) return
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined
      void this.#flushOutbox()
    }, delay)
  }

  /** Retries the outbox, 64 invalidations at a time; stops at the first batch with a failure. */
  async #flushOutbox(): Promise<void> {
    while (this.#outbox.length > 0 && !this.#closed) {
      const batch = this.#outbox.slice(0, 64)
      const results = await Promise.all(batch.map((pending) => this.#retry(pending)))
      const done = new Set(batch.filter((_, i) => results[i] === true))
      this.#outbox = this.#outbox.filter((p) => !done.has(p))
      for (const pending of done) {
        this.#release(pending)
        // While this waited, this node may have copied the old value from L2 back into L1; its
        // own bus message will not reach it (origin), so it drops the keys itself now.
        if (pending.keys.length > 0) this.#host.dropL1(pending.keys)
      }
      if (done.size < batch.length) {
        const attempts = Math.max(...batch.map((p) => p.attempts))
        this.#scheduleRetry(Math.min(100 * 2 ** Math.min(attempts, 4), 1_000))
        return
      }
    }
  }

  async #retry(pending: Pending): Promise<boolean> {
    pending.attempts++
    if (pending.keys.length > 0 && !(await this.#host.invalidateShared(pending.keys, pending.message.version))) return false
    const bus = this.#bus
    if (bus === undefined) return true
    const receipt = await this.#guard.run(() => bus.publish(pending.message), undefined)
    pending.message.tags?.forEach((tag, i) => {
      const v = receipt?.tagVersions?.[i]
      if (v !== undefined) this.tags.observe(tag, v)
    })
    return receipt !== undefined
  }

}
