import type { Clock } from '../ports/clock.js'
import type { Logger } from '../ports/logger.js'
import type { Serializer } from './serializer.js'

/**
 * What the core needs to know of a cache's configuration, resolved and frozen: durations in
 * milliseconds, defaults filled in. The composition root (src/compose) turns user options into
 * this once, at construction; the core never sees the raw options.
 */
export interface CacheSettings {
  readonly namespace: string
  readonly ttl: number
  readonly grace: number
  readonly timeout: number | undefined
  readonly softTimeout: number | undefined
  readonly graceBackoff: number
  readonly maxValueBytes: number
  readonly serializer: Serializer
  readonly clock: Clock
  readonly logger: Logger
  /** L1 behaviour, or false without L1. */
  readonly l1: false | { readonly maxTtl: number; readonly clone: boolean }
  /** How long the first calls wait for the shared tier and the bus to connect (the start budget). */
  readonly connectTimeout: number
  readonly fencedTtl: number
  readonly tombstoneTtl: number
  readonly tagTtl: number
  readonly lease: false | { readonly ttl: number; readonly wait: number }
}
