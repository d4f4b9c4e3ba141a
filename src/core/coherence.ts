import { randomBytes } from 'node:crypto'
import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from '../ports/bus.js'
import type { Clock, TimerHandle } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { L1Tier } from './l1-tier.js'
import type { SharedTier } from './shared-tier.js'
import { channels } from './telemetry.js'
import type { TierGuard } from './tier-guard.js'

/** An invalidation not yet confirmed by the shared tier and the bus. */
interface Pending {
  readonly message: InvalidationMessage
  readonly keys: readonly string[]
  attempts: number
}

/** How many unconfirmed invalidations the outbox keeps before it drops the oldest. */
export const MAX_PENDING_INVALIDATIONS = 10_000

/** What {@link Coherence} is given: the tiers it keeps coherent and the bus it follows. */
export interface CoherenceTiers {
  readonly l1: L1Tier
  readonly shared: SharedTier | undefined
  /** The bus every node of the namespace follows; undefined for a single node. */
  readonly bus: InvalidationBus | undefined
  /** The guard every publish goes through (budget, breaker, fallback to the outbox). */
  readonly busGuard: TierGuard | undefined
}

/**
 * Keeps one cache coherent with the others of its namespace:
 * - applies invalidations from the bus to L1 (keys dropped, tag versions raised);
 * - flushes L1 on a bus gap;
 * - fences L1 until the bus has synced for the first time, and while it is disconnected: entries
 *   written then get at most `fencedTtl` of freshness, and if the bus is not back within
 *   `fencedTtl`, L1 is flushed. A blip shorter than that costs nothing (the follower resumes from
 *   its cursor and replays what it missed); a longer outage bounds staleness to detection +
 *   `fencedTtl`. The first sync starts at the end of the stream (there is no cursor to resume from),
 *   so it flushes whatever L1 took in before it, and fences every fill still in flight;
 * - publishes this node's invalidations, and keeps the ones that failed in an outbox it retries
 *   with back-off until the shared tier and the bus confirm them (none is dropped silently: an
 *   overflowing outbox is logged once per episode with a count, and the L1 hard TTL cap bounds what
 *   it could leave behind).
 */
export class Coherence implements BusListener {
  readonly nodeId = randomBytes(8).toString('hex')
  readonly bus: InvalidationBus | undefined
  readonly #l1: L1Tier
  readonly #shared: SharedTier | undefined
  readonly #guard: TierGuard | undefined
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #namespace: string
  readonly #fencedTtl: number
  readonly #tombstoneTtl: number
  readonly #unsubscribe: (() => void) | undefined
  #synced = false
  #outbox: Pending[] = []
  /** Invalidations dropped from a full outbox since it was last below the limit (logged once per episode). */
  #dropped = 0
  /** Keys whose shared-tier invalidation is still in the outbox: L2 may hold their old value. */
  readonly #pendingKeys = new Map<string, number>()
  /** Prefixes whose removal from the shared tier is under way: L2 may hold old values of matching keys. */
  #pendingPrefixes: readonly string[] = []
  #retryTimer: TimerHandle = undefined
  #fenceTimer: TimerHandle = undefined
  #closed = false

  constructor(tiers: CoherenceTiers, options: { clock: Clock; logger: Logger; namespace: string; fencedTtl: number; tombstoneTtl: number }) {
    this.#l1 = tiers.l1
    this.#shared = tiers.shared
    this.#guard = tiers.busGuard
    this.#clock = options.clock
    this.#logger = options.logger
    this.#namespace = options.namespace
    this.#fencedTtl = options.fencedTtl
    this.#tombstoneTtl = options.tombstoneTtl
    this.bus = tiers.bus
    if (tiers.bus !== undefined) {
      // A node that will follow a bus must not hold long-lived L1 entries it filled before it
      // could hear invalidations.
      this.#l1.fence()
      this.#unsubscribe = tiers.bus.subscribe(this)
    }
  }

  get pendingInvalidations(): number {
    return this.#outbox.length
  }

  /** True while an invalidation of `key` has not reached L2: its L2 value must not be trusted. */
  isPending(key: string): boolean {
    return (this.#pendingKeys.size > 0 && this.#pendingKeys.has(key)) ||
      (this.#pendingPrefixes.length > 0 && this.#pendingPrefixes.some((prefix) => key.startsWith(prefix)))
  }

  /**
   * Stops trusting L2 values of keys starting with `prefix` until the returned function is called
   * (their removal from the shared tier is under way).
   */
  holdPrefix(prefix: string): () => void {
    this.#pendingPrefixes = [...this.#pendingPrefixes, prefix]
    let released = false
    return () => {
      if (released) return
      released = true
      const i = this.#pendingPrefixes.indexOf(prefix)
      if (i >= 0) this.#pendingPrefixes = this.#pendingPrefixes.filter((_, j) => j !== i)
    }
  }

  /** Removes keys from the shared tier, voiding leases and raising tombstones. False when it failed. */
  invalidateShared(keys: readonly string[], version: number | undefined): Promise<boolean> {
    return this.#shared === undefined ? Promise.resolve(true) : this.#shared.invalidate(keys, version, this.#tombstoneTtl)
  }

  /**
   * Publishes an invalidation this node already applied locally. Resolves with the receipt, or
   * undefined when the bus failed (the message then waits in the outbox and is retried).
   */
  async publish(message: Omit<InvalidationMessage, 'origin' | 'at'>, sharedKeys: readonly string[] = []): Promise<PublishReceipt | undefined> {
    const bus = this.bus
    if (bus === undefined) return undefined
    const full: InvalidationMessage = { ...message, origin: this.nodeId, at: this.#clock.now() }
    const receipt = await this.#publish(bus, full)
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
      this.#l1.flush('clear')
      return
    }
    const keys = message.keys
    if (keys !== undefined) for (const key of keys) this.#l1.drop(key)
    const prefixes = message.keyPrefixes
    if (prefixes !== undefined) for (const prefix of prefixes) this.#l1.dropPrefix(prefix)
    const tags = message.tags
    const versions = message.tagVersions
    if (tags !== undefined) {
      const registry = this.#l1.tags
      for (let i = 0; i < tags.length; i++) {
        const v = versions?.[i]
        if (v !== undefined) registry.observe(tags[i] as string, v)
        else registry.bump(tags[i] as string)
      }
    }
    if (channels.invalidated.hasSubscribers) {
      channels.invalidated.publish({ namespace: this.#namespace, at: message.at, keys: message.keys, tags: message.tags, keyPrefixes: message.keyPrefixes })
    }
  }

  onGap(reason: string): void {
    this.#l1.flush(`bus gap: ${reason}`)
  }

  onState(state: 'connected' | 'disconnected'): void {
    if (channels.tier.hasSubscribers) channels.tier.publish({ namespace: this.#namespace, tier: 'bus', state })
    if (state === 'disconnected') {
      this.#l1.fence()
      if (this.#fenceTimer === undefined) {
        this.#fenceTimer = this.#clock.setTimeout(() => {
          this.#fenceTimer = undefined
          if (this.#l1.fenced) this.#l1.flush('bus disconnected for longer than fencedTtl')
        }, this.#fencedTtl)
      }
      return
    }
    if (!this.#synced) {
      // The first sync starts at the end of the stream: whatever was published before it is
      // unheard. Nothing L1 took in before this point (or is filling now) can be trusted.
      this.#synced = true
      this.#l1.flush('bus started', true)
    }
    this.#l1.unfence()
    if (this.#fenceTimer !== undefined) this.#clock.clearTimeout(this.#fenceTimer)
    this.#fenceTimer = undefined
    if (this.#outbox.length > 0) this.#scheduleRetry(0)
  }

  /**
   * Stops following the bus. Invalidations still in the outbox get one last attempt (each bounded
   * by the guard's budget); those that fail are logged: other nodes then rely on their L1 TTL cap.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    if (this.#outbox.length > 0) await this.#flushOutbox()
    this.#closed = true
    this.#unsubscribe?.()
    if (this.#fenceTimer !== undefined) this.#clock.clearTimeout(this.#fenceTimer)
    this.#guard?.close()
    if (this.#outbox.length > 0 || this.#dropped > 0) {
      // `dropped`: the count of an overflow episode still open, which the drain line would have given.
      this.#logger.error({ pending: this.#outbox.length, dropped: this.#dropped, namespace: this.#namespace },
        'closing with invalidations not confirmed by Redis; other nodes rely on their L1 TTL cap for them')
    }
    this.#dropped = 0
    this.#outbox = []
    this.#pendingKeys.clear()
  }

  #publish(bus: InvalidationBus, message: InvalidationMessage): Promise<PublishReceipt | undefined> {
    return this.#guard === undefined ? bus.publish(message).catch(() => undefined) : this.#guard.run(() => bus.publish(message), undefined)
  }

  #enqueue(pending: Pending): void {
    if (this.#closed) return
    if (this.#outbox.length >= MAX_PENDING_INVALIDATIONS) {
      this.#release(this.#outbox.shift() as Pending)
      if (this.#dropped++ === 0) {
        this.#logger.error({ limit: MAX_PENDING_INVALIDATIONS, namespace: this.#namespace },
          'invalidation outbox full: dropping the oldest unconfirmed invalidations; other nodes rely on their L1 TTL cap for them')
      }
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
        for (const key of pending.keys) this.#l1.drop(key)
      }
      if (this.#dropped > 0 && this.#outbox.length < MAX_PENDING_INVALIDATIONS / 2) {
        this.#logger.warn({ dropped: this.#dropped, pending: this.#outbox.length, namespace: this.#namespace },
          'invalidation outbox draining again')
        this.#dropped = 0
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
    if (pending.keys.length > 0 && !(await this.invalidateShared(pending.keys, pending.message.version))) return false
    const bus = this.bus
    if (bus === undefined) return true
    const receipt = await this.#publish(bus, pending.message)
    pending.message.tags?.forEach((tag, i) => {
      const v = receipt?.tagVersions?.[i]
      if (v !== undefined) this.#l1.tags.observe(tag, v)
    })
    return receipt !== undefined
  }
}
