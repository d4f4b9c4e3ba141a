/** Counters saturate here: 4 bits each (TinyLFU paper §3.4: a small cap is enough to rank keys). */
export const MAX_FREQUENCY = 15

/** Each counter is a nibble; a 32-bit word holds eight. */
const COUNTERS_PER_WORD = 8
/** A block is 16 words (64 bytes, one cache line); all four counters of a key live in one block. */
const BLOCK_WORDS = 16
/**
 * How many increments, per unit of capacity, before every counter is halved (TinyLFU §3.3), unless
 * the owner sets another factor (the hill climber does, see {@link FrequencySketch.setSampleFactor}).
 */
export const SAMPLE_FACTOR = 10
/**
 * The table is never sized for fewer keys than this, so the counters are halved no more often
 * than every 5,120 counted requests. Sized for a cache of a few dozen entries, the sketch forgot
 * everything every few hundred requests: shorter than the reuse distance of the keys worth keeping
 * on loop- and scan-heavy traffic (the LIRS traces), so admission was decided by noise. Measured
 * on every simulator row (docs/l1.md): rows more than a point below the best reference policy
 * went from 21 to 12 on the small traces, and from 46 to 29 with two other store seeds, and from
 * 16 to 10 at cache sizes not used to choose it. 256 and 1,024 gave nearly the same; much longer
 * periods let counts reach the warm-candidate threshold on loops, whose random admissions then
 * churn the cache. Caches of 512 entries or more are unaffected once full. Memory: 4 KB.
 */
const MIN_KEYS = 512

/**
 * A count-min sketch of 4-bit counters with periodic halving: TinyLFU's approximate, ageing
 * frequency histogram (Einziger, Friedman & Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM TOS 2017). Layout follows Caffeine's block-based `FrequencySketch`: a key's four
 * counters share one 64-byte block, one counter in each quarter, so an update touches one cache
 * line. Width is 16 counters per expected key, which keeps the over-estimate small.
 *
 * Callers pass a 32-bit hash (the store hashes each key once, with a per-store seed, and keeps the
 * hash beside the entry), so neither `increment` nor `frequency` allocates or reads the key.
 */
export class FrequencySketch {
  #table: Uint32Array
  #blockMask = 0
  #keys = 0
  #factor = SAMPLE_FACTOR
  #sampleSize = 0
  #additions = 0
  #resets = 0

  constructor(expectedKeys = 16) {
    this.#table = new Uint32Array(BLOCK_WORDS)
    this.#blockMask = 0
    this.#keys = 2
    this.#sampleSize = SAMPLE_FACTOR * 2
    this.ensureCapacity(expectedKeys)
  }

  /**
   * Sizes the table for `expectedKeys` distinct keys (rounded up to a power of two; it never
   * shrinks). A byte-weighted store learns its entry count as it fills, so it grows a few times.
   *
   * Growing keeps every count, unlike Caffeine (which starts over): a key's block is chosen by the
   * low bits of its hash and its counters inside the block by an independent hash, so after
   * doubling, a key's block is either its old block or the old block plus the old length. Copying
   * the old table into both halves leaves every key reading exactly the counters it had before.
   */
  ensureCapacity(expectedKeys: number): void {
    const keys = ceilingPowerOfTwo(Math.max(MIN_KEYS, Math.min(expectedKeys, 1 << 26)))
    const words = (keys * 16) / COUNTERS_PER_WORD
    if (words <= this.#table.length) return
    const old = this.#table
    const table = new Uint32Array(words)
    for (let offset = 0; offset < words; offset += old.length) table.set(old, offset)
    this.#table = table
    this.#blockMask = words / BLOCK_WORDS - 1
    this.#keys = keys
    this.#sampleSize = Math.max(1, Math.round(this.#factor * keys))
  }

  /** How many distinct keys the table is sized for. */
  get capacity(): number {
    return this.#keys
  }

  /** Counted increments per key of {@link capacity} between two halvings. */
  get sampleFactor(): number {
    return this.#factor
  }

  /**
   * Changes how fast the sketch forgets: the counters are halved every `factor × capacity` counted
   * increments from now on. The counts are kept, and so are the increments counted since the last
   * halving: a shorter period that they already exceed halves at the next counted increment.
   */
  setSampleFactor(factor: number): void {
    this.#factor = factor
    this.#sampleSize = Math.max(1, Math.round(factor * this.#keys))
  }

  /**
   * Sets the halving period directly, in counted increments (at least 1). For a sketch that sees
   * only a sampled share of the keys (the hill climber's private ones), whose period is the full
   * sketch's scaled by the sampling rate rather than a multiple of its own table size. A later
   * {@link ensureCapacity} that grows the table sets it back to a multiple of the capacity.
   */
  setSampleSize(increments: number): void {
    this.#sampleSize = Math.max(1, Math.round(increments))
    this.#factor = this.#sampleSize / this.#keys
  }

  /** Increments after which the counters are halved. */
  get sampleSize(): number {
    return this.#sampleSize
  }

  /** How many times the counters have been halved. */
  get resets(): number {
    return this.#resets
  }

  /** The estimated frequency of a key, 0 to {@link MAX_FREQUENCY}: the minimum of its counters. */
  frequency(hash: number): number {
    const table = this.#table
    const block = (hash & this.#blockMask) << 4
    const h = counterHash(hash)
    let min = ((table[block + (h >>> 30)] as number) >>> (((h >>> 27) & 7) << 2)) & 15
    let count = ((table[block + 4 + ((h >>> 25) & 3)] as number) >>> (((h >>> 22) & 7) << 2)) & 15
    if (count < min) min = count
    count = ((table[block + 8 + ((h >>> 20) & 3)] as number) >>> (((h >>> 17) & 7) << 2)) & 15
    if (count < min) min = count
    count = ((table[block + 12 + ((h >>> 15) & 3)] as number) >>> (((h >>> 12) & 7) << 2)) & 15
    return count < min ? count : min
  }

  /**
   * Counts one occurrence of a key. When the number of counted occurrences reaches the sample size,
   * every counter is halved, so the sketch reflects recent popularity (TinyLFU's reset operation).
   * Saturated counters stay at 15 and an increment that changed nothing is not counted.
   *
   * This runs on every cache hit, so it is unrolled by hand: each of the four rows owns a quarter
   * of the block (4 words); five bits of the counter hash pick the word and the nibble in it.
   */
  increment(hash: number): void {
    const table = this.#table
    const block = (hash & this.#blockMask) << 4
    const h = counterHash(hash)
    let added = false
    let word = block + (h >>> 30)
    let shift = ((h >>> 27) & 7) << 2
    let value = table[word] as number
    if (((value >>> shift) & 15) !== 15) {
      table[word] = value + (1 << shift)
      added = true
    }
    word = block + 4 + ((h >>> 25) & 3)
    shift = ((h >>> 22) & 7) << 2
    value = table[word] as number
    if (((value >>> shift) & 15) !== 15) {
      table[word] = value + (1 << shift)
      added = true
    }
    word = block + 8 + ((h >>> 20) & 3)
    shift = ((h >>> 17) & 7) << 2
    value = table[word] as number
    if (((value >>> shift) & 15) !== 15) {
      table[word] = value + (1 << shift)
      added = true
    }
    word = block + 12 + ((h >>> 15) & 3)
    shift = ((h >>> 12) & 7) << 2
    value = table[word] as number
    if (((value >>> shift) & 15) !== 15) {
      table[word] = value + (1 << shift)
      added = true
    }
    if (added && ++this.#additions >= this.#sampleSize) this.#halve()
  }

  /** Halves every counter. The running count is halved too, less the halves lost to rounding. */
  #halve(): void {
    const table = this.#table
    let odd = 0
    for (let i = 0; i < table.length; i++) {
      const value = table[i] as number
      // The low bit of each nibble, summed into the top nibble by one multiply (at most 8: no carry).
      odd += Math.imul(value & 0x11111111, 0x11111111) >>> 28
      table[i] = (value >>> 1) & 0x77777777
    }
    this.#additions = (this.#additions - (odd >>> 2)) >>> 1
    this.#resets++
  }
}

/**
 * A second hash for choosing counters inside the block. The key hash is already well mixed, so one
 * multiply by the golden ratio (Fibonacci hashing) will do, cheaper than another finaliser on this
 * hot path, provided only the product's *high* bits are used (bits 12 to 31): they depend on every
 * bit of the hash, whereas the product's low bits depend only on the hash's low bits, which also
 * chose the block, and would make keys sharing a block share counters.
 */
function counterHash(hash: number): number {
  return Math.imul(hash, 0x9e3779b1)
}

function ceilingPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n))
}
