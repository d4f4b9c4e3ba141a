import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8'

/** What {@link Serializer.serialize} returns. */
export interface Serialized {
  readonly bytes: Buffer
  /**
   * False when `deserialize(bytes)` would not give back an equal value (a Date became a string,
   * a class instance lost its prototype). L1 then keeps the round-tripped value, so every tier
   * returns the same thing for the same key.
   */
  readonly exact: boolean
}

/**
 * Turns values into bytes for L2 and for size accounting. `id` is written into every stored entry
 * (one byte, 1..250) so a reader can tell which serializer produced it.
 */
export interface Serializer {
  readonly id: number
  readonly name: string
  /**
   * Throws {@link UnserializableValueError} when the value would lose data silently. With
   * `maxBytes`, may throw {@link ValueTooLargeError} as soon as the output is known to exceed it
   * (the cache checks the final size anyway; stopping early only saves time).
   */
  serialize(value: unknown, maxBytes?: number): Serialized
  deserialize(bytes: Buffer): unknown
  /** Optional: deserialize `buf` from `offset` to its end without slicing it first (the L2 read path). */
  deserializeAt?(buf: Buffer, offset: number): unknown
}

/** Raised by a serializer; the cache turns it into an `E_VALUE_NOT_SERIALIZABLE` error naming the key. */
export class UnserializableValueError extends Error {
  override readonly name = 'UnserializableValueError'
}

/**
 * The value's serialized form is known to be larger than the limit: serialization stopped there
 * instead of finishing a huge value only to refuse it.
 */
export class ValueTooLargeError extends Error {
  override readonly name = 'ValueTooLargeError'
  /** A lower bound of the serialized size, already over the limit. */
  readonly atLeast: number
  constructor(atLeast: number) {
    super(`at least ${atLeast} bytes`)
    this.atLeast = atLeast
  }
}

let lossy = false
// A lower bound of the JSON text written so far, and the limit it must stay under. Kept in module
// state like `lossy`: the replacer cannot carry state of its own, and serialize is not re-entrant.
let written = 0
let limit = Number.POSITIVE_INFINITY

// JSON.stringify silently drops functions and symbols and turns Map and Set into `{}`: a cache
// would then return something else than what was stored. Those are refused. Values JSON changes
// in a well-known way (Date to string, class instance to plain object, undefined member dropped)
// are accepted and flagged, so L1 keeps the JSON form too.
function strictReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (this[key] !== value) lossy = true // toJSON ran (Date, Buffer, ...)
  // An array element after the first costs its comma; an object member at least its quoted name
  // and colon (its comma is not counted: the bound stays below the real size).
  written += Array.isArray(this) ? (key === '0' ? 0 : 1) : key.length + 3
  switch (typeof value) {
    case 'object':
      written += 2
      if (written > limit) throw new ValueTooLargeError(written)
      if (value === null) return value
      if (value instanceof Map || value instanceof Set) {
        throw new UnserializableValueError(`${value instanceof Map ? 'a Map' : 'a Set'}${at(key)} (JSON would store {})`)
      }
      if (!lossy) {
        const proto: unknown = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) lossy = true
      }
      return value
    case 'function':
      throw new UnserializableValueError(`a function${at(key)}`)
    case 'symbol':
      throw new UnserializableValueError(`a symbol${at(key)}`)
    case 'bigint':
      throw new UnserializableValueError(`a BigInt${at(key)} (use the v8 serializer)`)
    case 'undefined':
      lossy = true
      // JSON drops an object member whose value is undefined: take back what its name was counted for.
      if (!Array.isArray(this)) written -= key.length + 3
      return value
    case 'number':
      written += 1
      if (written > limit) throw new ValueTooLargeError(written)
      if (!Number.isFinite(value)) lossy = true
      return value
    case 'string':
      // A UTF-16 unit is at least one UTF-8 byte; escapes only add.
      written += value.length + 2
      if (written > limit) throw new ValueTooLargeError(written)
      return value
    default:
      written += 4
      if (written > limit) throw new ValueTooLargeError(written)
      return value
  }
}

function at(key: string): string {
  return key === '' ? '' : ` at property "${key}"`
}

/** JSON with strict checks on write. The default: readable in redis-cli, portable across languages. */
export const jsonSerializer: Serializer = {
  id: 1,
  name: 'json',
  serialize(value: unknown, maxBytes?: number): Serialized {
    lossy = false
    // The first replacer call is for the root, under the key '' of a wrapper object: it writes no
    // name, colon or quotes, so start 3 below zero to cancel what the replacer adds for them.
    written = -3
    limit = maxBytes ?? Number.POSITIVE_INFINITY
    let text: string | undefined
    try {
      text = JSON.stringify(value, strictReplacer)
    } catch (error) {
      if (error instanceof UnserializableValueError || error instanceof ValueTooLargeError) throw error
      // JSON.stringify throws TypeError for cycles and BigInt it met through toJSON.
      throw new UnserializableValueError(error instanceof Error ? error.message : String(error), { cause: error })
    }
    if (text === undefined) throw new UnserializableValueError('a value JSON cannot represent')
    return { bytes: Buffer.from(text, 'utf8'), exact: !lossy }
  },
  deserialize(bytes: Buffer): unknown {
    return JSON.parse(bytes.toString('utf8'))
  },
  deserializeAt(buf: Buffer, offset: number): unknown {
    return JSON.parse(buf.toString('utf8', offset))
  },
}

/**
 * V8's structured-clone format: keeps Date, Map, Set, BigInt, typed arrays and cycles. Node-only,
 * and a value written by a newer Node may not be readable by an older one.
 */
export const v8Serializer: Serializer = {
  id: 2,
  name: 'v8',
  serialize(value: unknown): Serialized {
    try {
      return { bytes: v8Serialize(value), exact: true }
    } catch (error) {
      throw new UnserializableValueError(error instanceof Error ? error.message : String(error), { cause: error })
    }
  },
  deserialize(bytes: Buffer): unknown {
    return v8Deserialize(bytes)
  },
}

/** Serializers selectable by name in options. */
export const SERIALIZERS: Readonly<Record<string, Serializer>> = { json: jsonSerializer, v8: v8Serializer }
