import type { Clock } from '../ports/clock.js'
import type { CacheEntry } from '../ports/entry.js'
import { InvalidValueError } from './errors.js'
import type { Serializer } from './serializer.js'
import { UnserializableValueError, ValueTooLargeError } from './serializer.js'

/** Everything about a new entry except its value. */
export interface EntrySpec {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly tagVersions: readonly number[] | undefined
  readonly loadMs: number
  readonly version: number | undefined
  /** Upper bound on `staleUntil` (tagged entries must not outlive their tag versions). */
  readonly maxLifetime: number
}

/**
 * Validates and serializes values into entries: the one place a value can be refused. It runs
 * before anything is written anywhere, so a refused value harms nothing.
 */
export class EntryBuilder {
  readonly #serializer: Serializer
  readonly #maxValueBytes: number
  readonly #clock: Clock

  constructor(serializer: Serializer, maxValueBytes: number, clock: Clock) {
    this.#serializer = serializer
    this.#maxValueBytes = maxValueBytes
    this.#clock = clock
  }

  build(key: string, value: unknown, spec: EntrySpec): CacheEntry {
    if (value === undefined) {
      throw new InvalidValueError('E_VALUE_UNDEFINED', key, 'undefined cannot be cached (use null to cache "no value")')
    }
    let serialized
    try {
      serialized = this.#serializer.serialize(value, this.#maxValueBytes)
    } catch (error) {
      if (error instanceof ValueTooLargeError) {
        throw new InvalidValueError('E_VALUE_TOO_LARGE', key,
          `the serialized value is over maxValueBytes (${this.#maxValueBytes}): at least ${error.atLeast} bytes when serialization stopped`,
          { size: error.atLeast, maxValueBytes: this.#maxValueBytes })
      }
      const reason = error instanceof UnserializableValueError ? error.message : String(error)
      throw new InvalidValueError('E_VALUE_NOT_SERIALIZABLE', key, `the value contains ${reason}`, { serializer: this.#serializer.name }, error)
    }
    const size = serialized.bytes.length
    if (size > this.#maxValueBytes) {
      throw new InvalidValueError('E_VALUE_TOO_LARGE', key,
        `the serialized value is ${size} bytes, over maxValueBytes (${this.#maxValueBytes})`, { size, maxValueBytes: this.#maxValueBytes })
    }
    const now = this.#clock.now()
    const staleUntil = Math.min(now + spec.ttl + spec.grace, now + spec.maxLifetime)
    return {
      // JSON changes some values (Date to string): L1 then keeps what every other tier will return.
      value: serialized.exact ? value : this.#serializer.deserialize(serialized.bytes),
      bytes: serialized.bytes,
      size,
      createdAt: now,
      freshUntil: Math.min(now + spec.ttl, staleUntil),
      staleUntil,
      tags: spec.tags,
      tagVersions: spec.tagVersions,
      version: spec.version,
      loadMs: spec.loadMs,
    }
  }
}
