/**
 * Seeded hashing and randomness for the W-TinyLFU policy.
 *
 * Why seeded: the frequency sketch is a shared table of small counters, so keys whose hashes
 * collide share counts. With a fixed, public hash an attacker can precompute keys that collide with
 * a hot key and borrow its popularity (or inflate a victim's) — the hash-flooding attack on TinyLFU
 * described in Caffeine's design notes. A per-store random seed mixed into every character step
 * means such collisions cannot be computed offline. This is not a cryptographic MAC; the second
 * line of defence is the randomised admission of warm candidates (see `admit` in the store).
 */

/** A fresh 32-bit seed from the platform's CSPRNG (Web Crypto, global in Node 20). */
export function randomSeed(): number {
  const out = new Uint32Array(1)
  globalThis.crypto.getRandomValues(out)
  return out[0] as number
}

/**
 * 32-bit hash of a string's UTF-16 code units, seeded. Each step is FNV-1a's xor-multiply
 * followed by a rotate so the seed keeps influencing every later step; the result goes through
 * MurmurHash3's `fmix32` finaliser so all output bits depend on all input bits (the sketch uses
 * the low bits for the block and the high bits for the counters).
 */
export function hashString(key: string, seed: number): number {
  let h = seed ^ 0x811c9dc5
  const n = key.length
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    h = (h << 13) | (h >>> 19)
  }
  return fmix32(h ^ n)
}

/** MurmurHash3's 32-bit finaliser: a bijection with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h | 0
}

/**
 * xorshift32: a tiny, allocation-free generator for admission coin flips. Its quality is ample for
 * a 1-in-128 choice; what matters is that an attacker cannot predict it, hence the random seed.
 */
export class XorShift32 {
  #state: number

  constructor(seed: number) {
    // xorshift has a fixed point at zero.
    this.#state = seed === 0 ? 0x9e3779b9 : seed | 0
  }

  /** The next 32-bit value (as a signed int). */
  next(): number {
    let x = this.#state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    this.#state = x
    return x
  }
}
