import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { BusListener, DeliveredMessage, InvalidationBus } from '../ports/bus.js'
import type { BehaviorTable } from './behavior.js'
import type { EdgeStorage, PurgeSelector } from './edge-storage.js'
import type { EdgeCounters } from './metrics.js'
import { edgeChannels } from './metrics.js'
import { PurgeError } from './errors.js'
import { PurgeFence } from './purge-fence.js'
import type { PurgeRequest } from './purge.js'
import { PurgeQueue } from './purge-queue.js'

/** Where a purge came from (a bounded metric label). */
export type PurgeSource = 'api' | 'bus' | 'unsafe-method' | 'gap'

/** What the purger needs from the edge. */
export interface PurgerDeps {
  readonly id: string
  readonly behaviors: BehaviorTable
  readonly clock: Clock
  readonly counters: EdgeCounters
  readonly logger: Logger
  readonly fenceWindowMs: number
  /** Storage once it is open. */
  storage(): Promise<EdgeStorage>
  /** Cancels the fills in flight that the purge touches (they would fetch what was just purged). */
  cancelFills(selector: PurgeSelector): void
}

/**
 * Applies purges to this node's storage, whatever their source (purge API, bus, unsafe methods),
 * in batches off the request path (see purge-queue.ts), records them in the fence, cancels the
 * fills they touch, and turns a bus gap into "everything stored is stale".
 */
export class Purger {
  readonly fence: PurgeFence
  readonly #deps: PurgerDeps
  readonly #queue: PurgeQueue
  #staleBefore = 0

  constructor(deps: PurgerDeps) {
    this.#deps = deps
    this.fence = new PurgeFence(deps.fenceWindowMs)
    this.#queue = new PurgeQueue((selector, soft, count) => this.#applyBatch(selector, soft, count))
  }

  /** Responses received at or before this time are stale (set by a bus gap). */
  get staleBefore(): number {
    return this.#staleBefore
  }

  /** Purge selectors use URL parts: each URL is normalised by the behavior its path falls under. */
  selector(tags: readonly string[], urls: readonly string[], prefixes: readonly string[], all: boolean): PurgeSelector {
    const urlParts = urls.map((u) => {
      const q = u.indexOf('?')
      const path = q === -1 ? u : u.slice(0, q)
      return this.#deps.behaviors.match(path).urlPart(path, q === -1 ? '' : u.slice(q + 1))
    })
    return { tags, urls: urlParts, prefixes, all }
  }

  /** Queues a purge for the next batch; resolves with the entries that batch changed. */
  async apply(selector: PurgeSelector, soft: boolean, source: PurgeSource): Promise<number> {
    const entries = await this.#queue.submit(selector, soft)
    if (edgeChannels.purge.hasSubscribers) edgeChannels.purge.publish({ source, soft, entries })
    return entries
  }

  async #applyBatch(selector: PurgeSelector, soft: boolean, count: number): Promise<number> {
    const { clock, counters } = this.#deps
    const now = clock.now()
    this.fence.record(selector, now)
    this.#deps.cancelFills(selector)
    const entries = await (await this.#deps.storage()).purge(selector, soft, now)
    counters.purges += count
    counters.purgeBatches++
    counters.purgedEntries += entries
    return entries
  }

  /**
   * A purge from the API: applied here, then published on the bus (when there is one) so every
   * edge node and app cache applies it. Throws `E_PURGE_FAILED` when the bus refused the message
   * (the local purge is done).
   */
  async purgeAndPublish(p: PurgeRequest, bus: InvalidationBus | undefined): Promise<{ entries: number; published: boolean }> {
    const entries = await this.apply(this.selector(p.tags, p.urls, p.prefixes, false), p.soft, 'api')
    if (bus === undefined) return { entries, published: false }
    try {
      await bus.publish({
        ...(p.tags.length > 0 ? { tags: p.tags } : {}),
        ...(p.urls.length > 0 ? { urls: p.urls } : {}),
        ...(p.prefixes.length > 0 ? { prefixes: p.prefixes } : {}),
        soft: p.soft,
        origin: this.#deps.id,
        at: this.#deps.clock.now(),
      })
    } catch (error) {
      throw new PurgeError('E_PURGE_FAILED', `purged on ${this.#deps.id} but could not publish on the bus: ${(error as Error).message}`, { entries }, error)
    }
    return { entries, published: true }
  }

  /** The bus listener of this node. */
  listener(): BusListener {
    return {
      onMessage: (message) => { this.#onMessage(message) },
      onGap: (reason) => { this.#onGap(reason) },
      onState: (state) => {
        if (state === 'disconnected') this.#deps.logger.warn({ id: this.#deps.id }, 'edge: invalidation bus disconnected; purges from other nodes may arrive late')
      },
    }
  }

  #onMessage(message: DeliveredMessage): void {
    // This node applied its own purges before publishing them.
    if (message.origin === this.#deps.id) return
    const selector = this.selector(message.tags ?? [], message.urls ?? [], message.prefixes ?? [], message.clear === true)
    if ((selector.tags?.length ?? 0) + (selector.urls?.length ?? 0) + (selector.prefixes?.length ?? 0) === 0 && selector.all !== true) return
    this.apply(selector, message.soft === true, 'bus').catch((error: unknown) => {
      this.#deps.logger.error({ error: (error as Error).message }, 'edge: could not apply a purge from the bus')
    })
  }

  /** Invariant 2: after a possible gap in the stream, nothing stored may be served as fresh until revalidated. */
  #onGap(reason: string): void {
    const now = this.#deps.clock.now()
    this.#deps.counters.busGaps++
    this.#staleBefore = now
    this.fence.record({ all: true }, now)
    this.#deps.logger.warn({ reason }, 'edge: invalidation stream gap, everything stored is now stale')
    if (edgeChannels.purge.hasSubscribers) edgeChannels.purge.publish({ source: 'gap', soft: true, entries: -1 })
  }
}
