import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import { systemClock } from '../core/clock.js'
import { silentLogger } from '../core/logger.js'
import type { RedisClient, RedisSource } from '../redis/connection.js'
import { connect } from '../redis/connection.js'
import { readerReady } from '../redis/stream-bus.js'
import type { DeadLetter, FollowerEvent, FollowerStats, RetryPolicy } from './follower.js'
import { StreamFollower, readDeadLetters } from './follower.js'
import type { CdnMapping } from './mapping.js'
import { EMPTY_MAPPING } from './mapping.js'
import type { CdnPurger } from './purger.js'
import { DEFAULT_RETRY } from './config.js'

export interface CdnPurgeRunnerOptions extends RedisSource {
  /** The cache namespace whose invalidation bus to follow. */
  readonly namespace: string
  /** Cursors and dead letters are kept under this name. Default `cdn-purger`. */
  readonly name?: string | undefined
  readonly purgers: readonly CdnPurger[]
  readonly mapping?: CdnMapping | undefined
  readonly retry?: RetryPolicy | undefined
  readonly clock?: Clock | undefined
  readonly logger?: Logger | undefined
  /** How long one blocking read waits. Default 1000 ms. */
  readonly blockMs?: number | undefined
  /** Messages read (and batched into purges) at most per read. Default 500. */
  readonly readCount?: number | undefined
  readonly onEvent?: ((event: FollowerEvent) => void) | undefined
}

export interface CdnPurgeRunnerStats {
  readonly purgers: readonly FollowerStats[]
  readonly purged: number
  readonly deadLettered: number
  readonly retries: number
}

/**
 * Follows a namespace's invalidation bus and purges CDNs: one {@link StreamFollower} per CDN, each
 * with its own cursor, pace and dead letters. `tiercache cdn-purger` is this class behind a
 * configuration file.
 */
export class CdnPurgeRunner {
  readonly #client: RedisClient
  readonly #owned: boolean
  readonly #followers: StreamFollower[]
  readonly #purgers: readonly CdnPurger[]
  #started = false
  #closing: Promise<void> | undefined

  constructor(options: CdnPurgeRunnerOptions) {
    const { client, owned } = connect(options)
    this.#client = client
    this.#owned = owned
    this.#purgers = options.purgers
    const name = options.name ?? 'cdn-purger'
    this.#followers = options.purgers.map((purger) => new StreamFollower({
      client,
      namespace: options.namespace,
      name,
      purger,
      mapping: options.mapping ?? EMPTY_MAPPING,
      retry: options.retry ?? DEFAULT_RETRY,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
      blockMs: options.blockMs ?? 1_000,
      readCount: options.readCount ?? 500,
      onEvent: options.onEvent,
    }))
  }

  /** Starts following. Resolves at once; each follower connects, resumes from its cursor and retries on its own. */
  start(): void {
    if (this.#started) return
    this.#started = true
    for (const f of this.#followers) f.start()
  }

  /** Resolves once every follower has placed its cursor (connected at least once), or rejects after `timeoutMs`. */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.#followers.every((f) => f.stats().connected)) {
      if (Date.now() > deadline) throw new Error(`the CDN purger did not reach the invalidation bus within ${timeoutMs}ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  stats(): CdnPurgeRunnerStats {
    const purgers = this.#followers.map((f) => f.stats())
    const sum = (k: 'purged' | 'deadLettered' | 'retries'): number => purgers.reduce((n, s) => n + s[k], 0)
    return { purgers, purged: sum('purged'), deadLettered: sum('deadLettered'), retries: sum('retries') }
  }

  /** The newest dead letters of every purger, newest first per purger. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    await readerReady(this.#client, 5_000)
    const lists = await Promise.all(this.#followers.map((f) => readDeadLetters(this.#client, f.deadLetterKey, limit)))
    return lists.flat()
  }

  /** How many dead letters each purger holds (what the dead-letter gauge reports). */
  async deadLetterCounts(): Promise<Record<string, number>> {
    await readerReady(this.#client, 5_000)
    const out: Record<string, number> = {}
    await Promise.all(this.#followers.map(async (f, i) => { out[this.#purgers[i]!.name] = await this.#client.llen(f.deadLetterKey) }))
    return out
  }

  /** Stops following and closes the purgers; calling it again waits for the same close. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    await Promise.all(this.#followers.map((f) => f.stop()))
    await Promise.all(this.#purgers.map((p) => p.close().catch(() => {})))
    if (this.#owned) this.#client.disconnect()
  }
}
