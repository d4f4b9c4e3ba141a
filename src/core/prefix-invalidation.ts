import type { Clock, TimerHandle } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { PrefixCursor } from '../ports/prefix-store.js'
import type { Coherence } from './coherence.js'
import type { L1Tier } from './l1-tier.js'
import type { SharedTier } from './shared-tier.js'

/** Keys one step of a prefix removal looks at (SCAN COUNT) and the most one command removes. */
export const PREFIX_BATCH = 500

/** What `invalidatePrefix` did. */
export interface PrefixInvalidationResult {
  /** Keys removed from L2 (fill leases included). */
  readonly deleted: number
  /**
   * True when L2 was cleared of the prefix and every node was told before the call returned. False
   * when L2 or the bus failed on the way: the removal goes on in the background, retried with
   * back-off, and this node does not read matching keys from L2 until it is done.
   */
  readonly complete: boolean
}

/** A removal that could not finish in one go. */
interface Unfinished {
  readonly prefix: string
  cursor: PrefixCursor | undefined
  deleted: number
  attempts: number
  readonly release: () => void
}

/**
 * `invalidatePrefix`: removes every key starting with a prefix from every tier and every node.
 *
 * 1. This node's L1 drops the matching entries and fences every fill in flight here.
 * 2. L2 is cleared in bounded steps (ports/prefix-store.ts: leases first, then entries, SCAN and
 *    UNLINK on every master, never KEYS), each step under the shared tier's time budget. Meanwhile
 *    this node does not trust L2 values of matching keys. Removing the leases first fences fills
 *    that started before the call on any node: they lose their lease and write nothing.
 * 3. Then one bus message tells every node to drop matching L1 entries and fence their fills in
 *    flight (a message a node cannot read counts as a gap there: it flushes L1).
 *
 * If L2 fails midway, the removal resumes from its cursor in the background, with back-off, until it
 * is done; only then is the bus told (else other nodes could refill from the old L2 values). A
 * failed publish waits in the outbox like any invalidation.
 */
export class PrefixInvalidator {
  readonly #l1: L1Tier
  readonly #shared: SharedTier | undefined
  readonly #coherence: Coherence
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #unfinished = new Set<Unfinished>()
  #timer: TimerHandle = undefined
  #closed = false

  constructor(tiers: { l1: L1Tier; shared: SharedTier | undefined; coherence: Coherence }, options: { clock: Clock; logger: Logger }) {
    this.#l1 = tiers.l1
    this.#shared = tiers.shared
    this.#coherence = tiers.coherence
    this.#clock = options.clock
    this.#logger = options.logger
  }

  /** Prefix removals still running in the background. */
  get pending(): number {
    return this.#unfinished.size
  }

  async run(prefix: string): Promise<PrefixInvalidationResult> {
    this.#l1.dropPrefix(prefix)
    const job: Unfinished = { prefix, cursor: undefined, deleted: 0, attempts: 0, release: this.#coherence.holdPrefix(prefix) }
    if (await this.#advance(job)) return { deleted: job.deleted, complete: await this.#finish(job) }
    this.#unfinished.add(job)
    this.#schedule()
    return { deleted: job.deleted, complete: false }
  }

  /** Gives up on removals still running: logged, since other nodes may keep matching entries until their TTL. */
  close(): void {
    this.#closed = true
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#unfinished.size > 0) {
      this.#logger.error({ prefixes: [...this.#unfinished].map((j) => j.prefix) },
        'closing with prefix invalidations not finished in Redis; matching entries may be served until their TTL')
    }
    for (const job of this.#unfinished) job.release()
    this.#unfinished.clear()
  }

  /** Runs steps until the removal is done (true) or a step fails (false, resumable from the cursor). */
  async #advance(job: Unfinished): Promise<boolean> {
    const shared = this.#shared
    const prefixes = shared?.prefixes
    if (shared === undefined || prefixes === undefined) return true
    for (;;) {
      if (this.#closed) return false
      const cursor = job.cursor
      const step = await shared.call(() => prefixes.deletePrefixStep(job.prefix, cursor, PREFIX_BATCH), undefined)
      if (step === undefined) return false
      job.deleted += step.deleted
      job.cursor = step.cursor
      if (step.cursor === undefined) return true
    }
  }

  /** L2 is clear: tell every node, then trust L2 again. True when the bus took the message at once. */
  async #finish(job: Unfinished): Promise<boolean> {
    // This node's own fills that read L2 before the removal reached their key are fenced again.
    this.#l1.dropPrefix(job.prefix)
    const published = this.#coherence.bus === undefined || (await this.#coherence.publish({ keyPrefixes: [job.prefix] })) !== undefined
    job.release()
    return published
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#closed || this.#unfinished.size === 0) return
    const attempts = Math.max(...[...this.#unfinished].map((j) => j.attempts))
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      void this.#retry()
    }, Math.min(100 * 2 ** Math.min(attempts, 5), 2_000))
  }

  async #retry(): Promise<void> {
    for (const job of [...this.#unfinished]) {
      job.attempts++
      if (await this.#advance(job)) {
        this.#unfinished.delete(job)
        await this.#finish(job)
      }
    }
    this.#schedule()
  }
}
