import { FrequencySketch, SAMPLE_FACTOR } from './frequency-sketch.js'
import { MiniatureCache } from './miniature-cache.js'

/**
 * Tuning of the {@link HillClimber}. The defaults are the values docs/l1.md reports results for;
 * they were chosen once, on all the simulator's traces and workloads together, not per trace.
 */
export interface HillClimberOptions {
  /** First step, as a share of the cache. Default 0.2. */
  readonly step?: number | undefined
  /** Smallest distance from the position to each probe, as a share of the cache. Default 0.05. */
  readonly probe?: number | undefined
  /** Standard deviations a hit difference must reach before the climber acts on it. Default 4. */
  readonly confidence?: number | undefined
  /** Entries per miniature cache; the sampling rate is chosen to get near it. Default 256. */
  readonly miniature?: number | undefined
  /** Also choose how fast the frequency sketch ages (see {@link AgeingClimber}). Default true. */
  readonly ageing?: boolean | undefined
}

/** Smallest and largest step, as shares of the cache. */
const MIN_STEP = 0.01
const MAX_STEP = 0.5
/** Rprop's factors: the step doubles while the direction holds and halves when it reverses. */
const GROW = 2
const SHRINK = 0.5
/** Sampled requests (in miniature capacities) ignored after the probes move, while they settle. */
const WARMUP = 0.5
/** Sampled requests (in miniature capacities) before a decision may be taken... */
const MIN_SAMPLE = 1.5
/** ...and requests where exactly one probe hit, at least (the variance floor of the test). */
const MIN_DISCORDANT = 256
/** Sampled requests (in miniature capacities) after which no significant difference is a tie. */
const PATIENCE = 10
/** Consecutive ties after which the climber scouts the far end of the range. */
const TIES_BEFORE_SCOUTING = 2
/**
 * Sampling at least 1 key in 4 keeps the miniatures' cost on the hit path small even for small
 * caches, as long as they keep this many entries (smaller ones lose fidelity: measured).
 */
const MIN_RATE = 4
const MIN_MINIATURE = 128
/**
 * The ageing comparison (see {@link AgeingClimber}) runs only where one read in 16 or fewer is
 * sampled: caches of about 4,096 entries and more. It adds two miniature accesses per sampled
 * read, and on smaller caches, which sample one read in 4 or 8, that measured 20% off the hit
 * path at 1,000 entries (0.50x lru-cache's speed to 0.39-0.43x). Measured on every simulator row,
 * the threshold keeps all of the gain on drifting popularity (the caches there hold 10,000 entries
 * and more) and drops only small-cache changes that went both ways (lirs_multi2 1% +0.4 to +1.5,
 * lirs_sprite 1% -0.4, cloudphysics_w106 1% -0.4 with two of three seeds).
 */
const AGEING_MIN_RATE = 16
/** Odd multiplier that spreads the key hash for the sampling decision. */
const SAMPLE_SALT = 0x2c1b3c6d

/**
 * Chooses the size of the admission window by hill climbing on the hit ratio.
 *
 * Caffeine climbs by comparing the hit ratio of one sample period with the previous period's, at
 * another window. On real traces the hit ratio moves between periods by far more than a window
 * change moves it (cache2k's orm-busy swings by ±10 points at a fixed window), so that signal is
 * mostly noise and the window wanders. This climber compares two windows on the *same* requests
 * instead: two miniature caches (see {@link MiniatureCache}) run at `position − probe` and
 * `position + probe` on a spatially sampled share of the keys, and a sign test on the requests
 * where exactly one of them hits says which way is uphill. Then:
 *
 * - The real window moves one step that way. The step doubles while the direction holds and
 *   halves when it reverses or presses against 0% or 100% (Rprop, Riedmiller & Braun 1993), so
 *   the window crosses the whole range in a few decisions and then settles instead of wandering.
 * - The probes sit a whole step either side (never closer than `probe`): early, large steps
 *   compare distant windows. Hit ratio against window size is often not concave (on lirs_sprite
 *   it dips at 10% and peaks near 100%), and close probes would never see the far peak.
 * - A decision needs 1.5 miniature capacities of sampled requests, 256 discordant requests and a
 *   difference of `confidence` standard deviations. Discordant requests are not independent (a
 *   loop or a burst makes them come in runs), hence the generous threshold and floor. After 10
 *   capacities with no significant difference the climber calls a tie: it stays and keeps its
 *   step (narrowing would make a gentle slope undetectable).
 * - The first comparison, and the one after two ties in a row, is a scout: the current window
 *   against the far end (0% or 100%, whichever is further). If the far end is clearly better the
 *   window moves halfway there.
 *   This finds gains beyond any probe's reach (traffic whose only reuse is at 30% of the cache
 *   looks the same to every window below 30%), while a far end that is merely different never
 *   moves it, unlike wide symmetric probes, which compare two points neither of which is here.
 */
export class HillClimber {
  readonly #sketch: FrequencySketch
  readonly #probe: number
  readonly #confidence: number
  readonly #miniatureTarget: number
  readonly #adaptAgeing: boolean

  #position: number
  #step: number
  #direction = 0
  #ties = 0
  /** While scouting: the far end being compared with the position (1 or 0), else -1. */
  #scouting = -1
  #lower: MiniatureCache | undefined
  #upper: MiniatureCache | undefined
  #sampleMask = 0
  #entries = 0
  #difference = 0
  #discordant = 0
  #sampled = 0
  #warmup = 0
  #decisions = 0
  #ageing: AgeingClimber | undefined

  /**
   * @param sketch the store's frequency sketch, which the miniatures use for admission
   * @param initialWindow the window's share of the cache to start from
   */
  constructor(sketch: FrequencySketch, initialWindow: number, options: HillClimberOptions = {}) {
    this.#sketch = sketch
    this.#position = initialWindow
    this.#step = options.step ?? 0.2
    this.#probe = options.probe ?? 0.05
    this.#confidence = options.confidence ?? 4
    this.#miniatureTarget = options.miniature ?? 256
    this.#adaptAgeing = options.ageing ?? true
  }

  /** The sketch's halving period, in counted increments per key of its capacity. */
  get ageing(): number {
    return this.#sketch.sampleFactor
  }

  /** The window's share of the cache the climber currently asks for. */
  get window(): number {
    return this.#position
  }

  /** Comparisons decided so far (moves, ties and scouting runs). */
  get decisions(): number {
    return this.#decisions
  }

  /** Entries the climber is sized for (0 until {@link configure} is first called). */
  get entries(): number {
    return this.#entries
  }

  /**
   * Sizes the miniatures for a cache of `entries` entries: the sampling rate R is the power of two
   * that gives each miniature about `miniature` entries, and at least 4 unless that would leave
   * fewer than 128. The store calls it once it is half full, and again if its entry count drifts
   * by more than 2×.
   */
  configure(entries: number): void {
    this.#entries = entries
    let rate = Math.min(2 ** Math.max(0, Math.floor(Math.log2(entries / this.#miniatureTarget))), 1 << 16)
    while (rate < MIN_RATE && entries / (rate * 2) >= MIN_MINIATURE) rate *= 2
    this.#sampleMask = rate - 1
    const capacity = Math.max(8, Math.round(entries / rate))
    this.#lower = new MiniatureCache(this.#sketch, capacity, 0)
    this.#upper = new MiniatureCache(this.#sketch, capacity, 0)
    // The ageing comparison runs on the same sampled keys, so it adds no sampling test to a read.
    // Resized, it keeps the period the store has reached.
    if (this.#adaptAgeing && rate >= AGEING_MIN_RATE) this.#ageing = new AgeingClimber(this.#sketch, rate, capacity, this.#confidence, this.#ageing?.level)
    // The first comparison is a scout: the starting window against the far end of the range, so a
    // workload that wants a very different window gets there in one move rather than many.
    this.#scouting = this.#position < 0.5 ? 1 : 0
    this.#recentre()
  }

  /**
   * Whether a key's hash is in the sampled share of the key space. The high half of a product with
   * an odd constant depends on every bit of the hash, so the sample is independent of the low bits
   * the sketch uses to pick a block. One multiply: this runs on every read.
   */
  sampled(hash: number): boolean {
    return ((Math.imul(hash, SAMPLE_SALT) >>> 16) & this.#sampleMask) === 0
  }

  /**
   * Feeds one request for a sampled key (the caller checked {@link sampled}) to both miniatures.
   * Returns true when the window target changed.
   */
  record(hash: number): boolean {
    const lower = this.#lower
    const upper = this.#upper
    if (lower === undefined || upper === undefined) return false
    this.#ageing?.record(hash)
    const low = lower.access(hash)
    const high = upper.access(hash)
    // Until both miniatures are full they show their warm-up (a filling cache admits everything,
    // which favours whichever window admits least); after a move they need a moment to settle.
    if (!lower.filled || !upper.filled) return false
    if (this.#warmup > 0) {
      this.#warmup--
      return false
    }
    if (low !== high) {
      this.#discordant++
      this.#difference += high ? 1 : -1
    }
    const sampled = ++this.#sampled
    if ((sampled & 15) !== 0 || sampled < MIN_SAMPLE * lower.capacity) return false
    // Under "no difference" each discordant request is a fair coin: the difference has variance
    // `discordant` (floored, see MIN_DISCORDANT).
    const d = this.#difference
    const z = this.#confidence
    if (d * d >= z * z * Math.max(this.#discordant, MIN_DISCORDANT)) return this.#decide(d > 0 ? 1 : -1)
    if (sampled >= PATIENCE * lower.capacity) return this.#decide(0)
    return false
  }

  /** Acts on a comparison: 1 the upper probe won, -1 the lower, 0 a tie. */
  #decide(outcome: number): boolean {
    this.#decisions++
    const before = this.#position
    if (this.#scouting >= 0) {
      // The lower probe sat at the position, the upper at the far end.
      const far = this.#scouting
      this.#scouting = -1
      if (outcome > 0) {
        this.#position = (before + far) / 2
        this.#step = Math.max(MIN_STEP, Math.abs(far - before) / 2)
        this.#direction = far > before ? 1 : -1
      }
    } else if (outcome === 0) {
      if (++this.#ties >= TIES_BEFORE_SCOUTING) {
        this.#ties = 0
        this.#scouting = before < 0.5 ? 1 : 0
      }
    } else {
      this.#ties = 0
      const next = Math.max(0, Math.min(1, before + outcome * this.#step))
      if (next === before) {
        // Pressing against a bound: stay, and keep the next step small (a wrong move costs little).
        this.#step = Math.max(MIN_STEP, this.#step * SHRINK)
      } else {
        this.#position = next
        if (this.#direction !== 0) {
          this.#step = outcome === this.#direction ? Math.min(MAX_STEP, this.#step * GROW) : Math.max(MIN_STEP, this.#step * SHRINK)
        }
      }
      this.#direction = outcome
    }
    this.#recentre()
    return this.#position !== before
  }

  /** Places the probes for the next comparison and clears its counts. */
  #recentre(): void {
    const lower = this.#lower
    const upper = this.#upper
    if (lower === undefined || upper === undefined) return
    const capacity = lower.capacity
    this.#ageing?.setWindow(this.#position)
    if (this.#scouting >= 0) {
      lower.setWindow(this.#position * capacity)
      upper.setWindow(this.#scouting * capacity)
    } else {
      const probe = Math.max(this.#probe, this.#step)
      lower.setWindow(Math.max(0, this.#position - probe) * capacity)
      upper.setWindow(Math.min(1, this.#position + probe) * capacity)
    }
    this.#difference = 0
    this.#discordant = 0
    this.#sampled = 0
    this.#warmup = Math.ceil(capacity * WARMUP)
  }
}

/**
 * Halving periods the {@link AgeingClimber} chooses from, in counted increments per key of the
 * sketch's capacity, fastest first. The slowest is the TinyLFU paper's 10, the sketch's default:
 * ageing is only ever made faster than that. Slower ageing is not offered: on loops it lets counts
 * reach the warm-candidate threshold, whose random admissions (which the miniatures do not make)
 * then churn the cache. Each level halves the period. A fastest level of 1.25 was tried too: on
 * drifting popularity it gained nothing over 2.5, while on traces whose popularity shifts in
 * phases (cache2k's orm-busy, lirs_sprite) the comparison reached it and the store lost up to
 * half a point.
 */
const AGEING_FACTORS: readonly number[] = [2.5, 5, SAMPLE_FACTOR]
/**
 * The ageing comparison runs at the store's window or at this share, whichever is smaller. Ageing
 * acts through admission, which decides most where the window is small. At a large window the
 * periods hardly differ, and a store whose slow ageing makes small windows look bad would never
 * learn that a small window with faster ageing is better still: on drifting popularity at 2% the
 * climber takes the window to half the cache; compared at that window the periods tie and the
 * hit ratio stays near 44%; compared at 1% the faster period wins and it reaches 48%.
 */
const AGEING_WINDOW = 0.01
/**
 * Sampled requests per block, in miniature capacities, for the ageing comparison's variance
 * estimate (see {@link AgeingClimber}), and blocks before a decision may be taken (a variance
 * estimated from fewer is itself too noisy).
 */
const AGEING_BLOCK = 0.25
const AGEING_MIN_BLOCKS = 8

/**
 * Chooses how fast the store's frequency sketch forgets, by a paired comparison like the one the
 * {@link HillClimber} uses for the window.
 *
 * With a fixed period (every 10 × capacity counted requests) a key that was hot keeps a high count
 * long after its popularity has moved on; when popularity drifts, newcomers keep losing the
 * admission duel to yesterday's keys, and the FIFO family, which forgets quickly, does better.
 * Forgetting faster everywhere costs hit ratio on traffic whose frequencies are stable. So two
 * miniature caches run on the climber's sampled requests, each admitting with a sketch of its own
 * fed only those requests (so a key's count there is its count in the full stream): one ages at
 * the store's current period, the other at the next faster or slower one. The sampled sketches'
 * periods are the store's divided by the sampling rate. When the other period hits significantly
 * more often, the store's sketch adopts it and the next comparison looks one level further that
 * way; when it does not (a loss or a tie), the next comparison looks the other way. Without a
 * significant difference the store keeps its period, so stationary traffic keeps the default.
 *
 * The test differs from the window's in its variance. Two periods halve at different moments, and
 * on loops one miniature then hits a whole run of requests that the other misses: the discordant
 * requests come in long runs, and with the sign test's variance (one per discordant request) such
 * a run looked significant in about a third of the comparisons on lirs_loop. Here the requests are
 * cut into blocks and the variance is estimated from the blocks' differences (batch means), never
 * below the sign test's: runs inflate it, independent requests leave it where it was.
 *
 * Cost: two more miniature accesses and two sampled-sketch increments per sampled request (one in
 * R reads), nothing for the others.
 */
export class AgeingClimber {
  readonly #sketch: FrequencySketch
  readonly #rate: number
  readonly #confidence: number
  readonly #current: MiniatureCache
  readonly #currentSketch: FrequencySketch
  readonly #other: MiniatureCache
  readonly #otherSketch: FrequencySketch
  readonly #blockLength: number
  #level: number
  /** Which neighbour of the current level the other miniature runs: -1 faster, 1 slower. */
  #direction = -1
  #difference = 0
  #discordant = 0
  /** Blocks completed, the blocks' sum of squared differences, and the running block. */
  #blocks = 0
  #squares = 0
  #block = 0
  #inBlock = 0
  #warmup = 0
  #decisions = 0

  /**
   * @param sketch the store's sketch, whose period this sets
   * @param rate the sampling rate: one key in `rate` is fed to {@link record}
   * @param capacity entries per miniature
   * @param confidence standard deviations a difference must reach
   * @param level index into the periods to start from (default: the sketch's default period)
   */
  constructor(sketch: FrequencySketch, rate: number, capacity: number, confidence: number, level = AGEING_FACTORS.length - 1) {
    this.#sketch = sketch
    this.#rate = rate
    this.#confidence = confidence
    this.#level = level
    this.#currentSketch = new FrequencySketch(capacity)
    this.#otherSketch = new FrequencySketch(capacity)
    this.#current = new MiniatureCache(this.#currentSketch, capacity, 0, true)
    this.#other = new MiniatureCache(this.#otherSketch, capacity, 0, true)
    this.#blockLength = Math.max(16, Math.round(capacity * AGEING_BLOCK))
    sketch.setSampleFactor(AGEING_FACTORS[level] as number)
    this.#recentre()
  }

  /** Index of the store's current period in the ladder of periods. */
  get level(): number {
    return this.#level
  }

  /** Comparisons decided so far. */
  get decisions(): number {
    return this.#decisions
  }

  /** The store's window, as a share of the cache: the miniatures run at it, or at 1% if smaller. */
  setWindow(share: number): void {
    const window = Math.min(share, AGEING_WINDOW)
    this.#current.setWindow(window * this.#current.capacity)
    this.#other.setWindow(window * this.#other.capacity)
  }

  /** One request for a sampled key. */
  record(hash: number): void {
    const current = this.#current
    const other = this.#other
    const here = current.access(hash)
    const there = other.access(hash)
    if (!current.filled || !other.filled) return
    if (this.#warmup > 0) {
      this.#warmup--
      return
    }
    if (here !== there) {
      this.#discordant++
      this.#block += there ? 1 : -1
    }
    if (++this.#inBlock < this.#blockLength) return
    const block = this.#block
    this.#difference += block
    this.#squares += block * block
    this.#block = 0
    this.#inBlock = 0
    const n = ++this.#blocks
    if (n < AGEING_MIN_BLOCKS) return
    // Batch means: the blocks' sample variance, times n, estimates the variance of the total.
    const d = this.#difference
    const variance = ((this.#squares - (d * d) / n) * n) / (n - 1)
    const z = this.#confidence
    if (d * d >= z * z * Math.max(variance, this.#discordant, MIN_DISCORDANT)) this.#decide(d > 0)
    else if (n * this.#blockLength >= PATIENCE * current.capacity) this.#decide(false)
  }

  #decide(otherWon: boolean): void {
    this.#decisions++
    if (otherWon) {
      this.#level += this.#direction
      this.#sketch.setSampleFactor(AGEING_FACTORS[this.#level] as number)
    } else {
      this.#direction = -this.#direction
    }
    this.#recentre()
  }

  /** Points the other miniature at a neighbouring period, sets both periods and clears the counts. */
  #recentre(): void {
    const next = this.#level + this.#direction
    if (next < 0 || next >= AGEING_FACTORS.length) this.#direction = -this.#direction
    // The store's sketch halves every factor × capacity counted requests; a sampled sketch sees one
    // key in `rate`, so the same ageing is a period `rate` times shorter.
    const unit = this.#sketch.capacity / this.#rate
    this.#currentSketch.setSampleSize((AGEING_FACTORS[this.#level] as number) * unit)
    this.#otherSketch.setSampleSize((AGEING_FACTORS[this.#level + this.#direction] as number) * unit)
    this.#difference = 0
    this.#discordant = 0
    this.#blocks = 0
    this.#squares = 0
    this.#block = 0
    this.#inBlock = 0
    this.#warmup = Math.ceil(this.#current.capacity * WARMUP)
  }
}
