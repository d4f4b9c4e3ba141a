import { randomBytes } from 'node:crypto'
import type { Clock } from '../ports/clock.js'
import type { Duration } from './duration.js'
import { assertKnownKeys, isRecord, timerDuration } from './call-options.js'
import { InvalidOptionError, LockError } from './errors.js'
import type { LockStore } from '../ports/lock-store.js'

/** Options of `cache.lock()`. */
export interface LockOptions {
  /** How long the lock is held unless released or extended. Default `'10s'`. */
  ttl?: Duration
  /** How long to wait for a held lock before `E_LOCK_TIMEOUT`. Default `'5s'`; 0 = try once. */
  wait?: Duration
}

/** A held lock. */
export interface LockHandle {
  readonly name: string
  /**
   * Fencing token: strictly increasing across every holder of this name. Pass it to the resource
   * you protect and have it refuse tokens lower than the last it saw (Kleppmann): a holder paused
   * past its TTL can then do no harm.
   */
  readonly fence: number
  /** Releases the lock. Rejects with `E_LOCK_LOST` if it had expired or was taken over. */
  release(): Promise<void>
  /** Extends the lock. Rejects with `E_LOCK_LOST` if it is no longer held by this handle. */
  extend(ttl?: Duration): Promise<void>
}

const LOCK_KEYS: ReadonlySet<string> = new Set(['ttl', 'wait'])

/** Acquires `name`, polling with back-off until `wait` passes. */
export async function acquireLock(store: LockStore, clock: Clock, name: string, options: LockOptions | undefined,
  sleep: (ms: number) => Promise<void>): Promise<LockHandle> {
  if (options !== undefined) {
    if (!isRecord(options)) throw new InvalidOptionError('options', 'an object { ttl?, wait? }', options)
    assertKnownKeys(options, LOCK_KEYS)
  }
  const ttl = options?.ttl === undefined ? 10_000 : timerDuration(options.ttl, 'ttl')
  const wait = options?.wait === undefined ? 5_000 : timerDuration(options.wait, 'wait', true)
  const token = randomBytes(16).toString('hex')
  const deadline = clock.now() + wait
  let pause = 10
  for (;;) {
    const fence = await store.acquireLock(name, token, ttl)
    if (fence !== undefined) return handle(store, name, token, fence, ttl)
    const left = deadline - clock.now()
    if (left <= 0) throw new LockError('E_LOCK_TIMEOUT', `lock "${name}" is held by another owner; gave up after ${wait}ms`, { lock: name, waitMs: wait })
    await sleep(Math.min(pause, left))
    pause = Math.min(pause * 2, 200)
  }
}

function handle(store: LockStore, name: string, token: string, fence: number, ttl: number): LockHandle {
  return {
    name,
    fence,
    async release() {
      if (!(await store.releaseLock(name, token))) {
        throw new LockError('E_LOCK_LOST', `lock "${name}" was no longer held by this owner when released (expired or taken over)`, { lock: name, fence })
      }
    },
    async extend(next?: Duration) {
      const ms = next === undefined ? ttl : timerDuration(next, 'ttl')
      if (!(await store.extendLock(name, token, ms))) {
        throw new LockError('E_LOCK_LOST', `lock "${name}" was no longer held by this owner when extended`, { lock: name, fence })
      }
    },
  }
}

/** Locks for one process (a cache without Redis): same contract, same fencing. */
export class LocalLockStore implements LockStore {
  readonly #clock: Clock
  readonly #held = new Map<string, { token: string; until: number }>()
  readonly #fences = new Map<string, number>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  acquireLock(name: string, token: string, ttlMs: number): Promise<number | undefined> {
    const now = this.#clock.now()
    const current = this.#held.get(name)
    if (current !== undefined && current.until > now) return Promise.resolve(undefined)
    this.#held.set(name, { token, until: now + ttlMs })
    const fence = (this.#fences.get(name) ?? 0) + 1
    this.#fences.set(name, fence)
    return Promise.resolve(fence)
  }

  releaseLock(name: string, token: string): Promise<boolean> {
    const current = this.#held.get(name)
    if (current === undefined || current.token !== token || current.until <= this.#clock.now()) return Promise.resolve(false)
    this.#held.delete(name)
    return Promise.resolve(true)
  }

  extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    const current = this.#held.get(name)
    if (current === undefined || current.token !== token || current.until <= this.#clock.now()) return Promise.resolve(false)
    current.until = this.#clock.now() + ttlMs
    return Promise.resolve(true)
  }
}
