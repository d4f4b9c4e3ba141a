import { LRUCache } from 'lru-cache'
import { describe, expect, it } from 'vitest'
import { arcPolicy } from '../../sim/arc.js'
import { gdsfPolicy } from '../../sim/gdsf.js'
import type { ReferencePolicy } from '../../sim/id-lists.js'
import { lirsPolicy, lirsUnboundedPolicy } from '../../sim/lirs.js'
import { lruPolicy } from '../../sim/lru.js'
import { optHits } from '../../sim/opt.js'
import { SeededRandom } from '../../sim/random.js'
import { s3fifoPolicy } from '../../sim/s3fifo.js'
import { sievePolicy } from '../../sim/sieve.js'

/** Letters to dense ids: 'ABAC' → [0, 1, 0, 2]. */
function ids(sequence: string): Int32Array {
  return Int32Array.from([...sequence], (c) => c.charCodeAt(0) - 65)
}

/**
 * Which requests hit, as a string of 'h' and 'm': the policies report totals only, so request i
 * hit when the prefix of length i + 1 has one more hit than the prefix of length i (every policy
 * is deterministic and online: a prefix's run is the start of the whole run).
 */
function hitPattern(policy: ReferencePolicy, sequence: string, capacity: number, sizes?: Uint32Array): string {
  const trace = ids(sequence)
  const distinct = sizes?.length ?? Math.max(...trace) + 1
  let out = ''
  let before = 0
  for (let i = 1; i <= trace.length; i++) {
    const { hits } = policy({ trace: trace.subarray(0, i), distinct, objectSizes: sizes }, capacity)
    out += hits > before ? 'h' : 'm'
    before = hits
  }
  return out
}

const UNIT_POLICIES: [string, ReferencePolicy][] = [
  ['LRU', lruPolicy], ['ARC', arcPolicy], ['S3-FIFO', s3fifoPolicy], ['SIEVE', sievePolicy], ['LIRS', lirsPolicy], ['GDSF', gdsfPolicy],
]

describe('reference policies on hand-checked sequences', () => {
  it('LRU evicts the least recently used', () => {
    // Capacity 2: after A B A, B is the LRU entry, so C evicts B (not A); B then misses.
    expect(hitPattern(lruPolicy, 'ABACBA', 2)).toBe('mmhmmm')
    // ... and that B miss evicted A (LRU after C), so the final A misses too; C B hit.
    expect(hitPattern(lruPolicy, 'ABACBCB', 2)).toBe('mmhmmhh')
  })

  it('SIEVE: the hand keeps its place, so an old unvisited entry outlives newer ones', () => {
    // Capacity 3. A B C fill the queue (oldest A); A hits (visited).
    // D: the hand starts at the oldest, A: visited, cleared, moves on; B unvisited: evicted; the
    //    hand stays at C. Queue A C D.
    // E: the hand is at C, unvisited: evicted; hand at D. Queue A D E.
    // F: the hand is at D, unvisited: evicted; hand at E. Queue A E F.
    // A: still there (LRU evicted it at E), a hit.
    expect(hitPattern(sievePolicy, 'ABCADEFA', 3)).toBe('mmmhmmmh')
    expect(hitPattern(lruPolicy, 'ABCADEFA', 3)).toBe('mmmhmmmm')
    // With every entry visited the hand sweeps the whole queue, clearing, and comes back to the
    // oldest: A B C all hit, D evicts A (as FIFO would), E evicts B.
    expect(hitPattern(sievePolicy, 'ABCABCDEC', 3)).toBe('mmmhhhmmh')
  })

  it('S3-FIFO: promotion from the small queue, the ghost, and the main queue\'s second chance', () => {
    // Capacity 2: the small FIFO S gets 10% (0.2 entries, so any entry in S puts it over its
    // share), the main FIFO M 90%, the ghost G 90% (1.8 keys: it remembers one).
    // 1 A: miss, into S.            2 A: hit, A's frequency 1.        3 B: miss, into S (S = A B).
    // 4 C: miss, full. S is over its share: its oldest, A, was hit, so it moves to M (frequency
    //      reset); S continues: B was not hit, so it goes to G. C enters S.
    // 5 B: miss, but G remembers it: it leaves G; the cache is full, S (C) over its share: C goes
    //      to G; B enters M directly. M = A B.
    // 6 A: hit in M, frequency 1.
    // 7 D: miss, full, S empty: evict from M. A (frequency 1) is reinserted with frequency 0;
    //      B (0) is evicted. M = A; D enters S.
    // 8 A: hit (it survived on its second chance).
    // 9 B: miss (evicted from M: not in G); D goes to G, B enters S.
    expect(hitPattern(s3fifoPolicy, 'AABCBADAB', 2)).toBe('mhmmmhmhm')
    // LRU differs at requests 5 and 6 (B hits, A was evicted by it).
    expect(hitPattern(lruPolicy, 'AABCBADAB', 2)).toBe('mhmmhmmhm')
  })

  it('S3-FIFO: one-hit wonders pass through the small queue and leave the main queue alone', () => {
    // Capacity 10: S's share is one entry. A is hit while in S, so when S first evicts, A moves
    // to M. A run of 20 never-seen keys then only cycles through S (each is evicted unhit to G):
    // A survives. LRU loses A after 10 new keys.
    const scan = 'BCDEFGHIJKLMNOPQRSTUVWXYZ'
    const sequence = `AA${scan}A`
    expect(hitPattern(s3fifoPolicy, sequence, 10).at(-1)).toBe('h')
    expect(hitPattern(lruPolicy, sequence, 10).at(-1)).toBe('m')
  })

  it('ARC: entries seen twice (T2) survive a scan; a ghost hit in B1 moves p toward recency', () => {
    // Capacity 3. A A B B: A and B are in T2. C fills the cache (T1 = C).
    // D: full; T1 (1) > p (0): C, T1's LRU, goes to ghost B1. E: D goes to B1 (B1 = C D).
    // F: |T1| + |B1| + 1 > c: B1's LRU (C) is forgotten; then E goes to B1 (B1 = D E).
    // A, B: hits in T2 (LRU had evicted both during the scan).
    // D: found in B1: a miss, p grows to 1; REPLACE: |T1| (F) = 1 is not > p, so T2's LRU (A)
    //    goes to B2; D enters T2. F: still in T1, a hit.
    expect(hitPattern(arcPolicy, 'AABBCDEFABDF', 3)).toBe('mhmhmmmmhhmh')
    expect(hitPattern(lruPolicy, 'AABBCDEFABDF', 3)).toBe('mhmhmmmmmmmm')
  })

  it('ARC matches the paper\'s cases on a small trace worked by hand', () => {
    // Capacity 2. A B: T1 = A B. A: hit, to T2. C: full, T1 (B) > p (0): B to B1.
    // B: in B1, p = 1; REPLACE: |T1| (C) = 1 is not > p: T2's A goes to B2. B enters T2.
    // C: hit (T1 → T2). A: in B2, p = 0; REPLACE: T1 is empty: T2's LRU (B) to B2; A enters T2.
    // B: in B2, p stays 0; T2's LRU (C) goes to B2. A: hit.
    expect(hitPattern(arcPolicy, 'ABACBCABA', 2)).toBe('mmhmmhmmh')
  })

  it('LIRS: the warm-up fills the LIR set, a non-resident HIR key reused soon becomes LIR', () => {
    // Capacity 3: 1 resident HIR entry (1%, at least 1), 2 LIR. Stack S bottom → top, queue Q.
    // A B: LIR (warm-up). C: resident HIR (S = A B C, Q = C).
    // D: miss; Q's front C is evicted, stays in S as non-resident; D: HIR (S = A B C D, Q = D).
    // C: miss, non-resident in S: Q's D evicted (non-resident); C becomes LIR; three LIRs: the
    //    bottom one, A, becomes resident HIR (Q = A) and S is pruned to B D C.
    // A: hit (resident HIR, not in S): to S's top (S = B D C A), stays HIR.
    // B: hit, LIR at the bottom: to the top; pruning drops the non-resident D (S = C A B).
    // A: hit, resident HIR in S: becomes LIR; the bottom LIR C becomes HIR (Q = C); S = B A.
    // D: miss (forgotten by the pruning): evicts C, D is HIR. C: miss (not in S): evicts D, C is
    //    HIR. D: miss, non-resident in S: evicts C, D becomes LIR and B is demoted.
    expect(hitPattern(lirsPolicy, 'ABCDCABADCD', 3)).toBe('mmmmmhhhmmm')
    expect(hitPattern(lruPolicy, 'ABCDCABADCD', 3)).toBe('mmmmhmmhmmh')
  })

  it('LIRS with its stack unbounded (the paper) remembers a reuse the bounded default forgot', () => {
    // Capacity 2: 1 LIR (A), 1 resident HIR. B..H each evict the one before, which stays in S as
    // non-resident (A, the only LIR, is S's bottom, so nothing is pruned). Bounded (at most 2 x 2
    // non-resident entries), B has been forgotten when it returns: it becomes a resident HIR and I
    // evicts it, so its third read misses. Unbounded, B is still in S: it becomes LIR (A is
    // demoted), I evicts A instead, and B's third read hits.
    expect(hitPattern(lirsPolicy, 'ABCDEFGHBIB', 2)).toBe('mmmmmmmmmmm')
    expect(hitPattern(lirsUnboundedPolicy, 'ABCDEFGHBIB', 2)).toBe('mmmmmmmmmmh')
  })

  it('LIRS keeps a fixed set on a loop longer than the cache, where LRU gets nothing', () => {
    const loop = 'ABCDEFGHIJ'.repeat(20)
    const lirs = hitPattern(lirsPolicy, loop, 5)
    // After the first pass, the 4 LIR entries (A B C D, the warm-up) hit on every pass.
    expect(lirs.slice(10)).toBe('hhhhmmmmmm'.repeat(19))
    expect(hitPattern(lruPolicy, loop, 5)).toBe('m'.repeat(200))
  })

  it('GDSF: priority = inflation + frequency / size; evicting raises the inflation', () => {
    // Cache 10 bytes; sizes A 5, B 5, C 2, D 8.
    // A: H = 1/5 = 0.2. B: H = 0.2 (cache full). A: hit, H = 2/5 = 0.4.
    // C: evict the lowest, B (0.2): L = 0.2; C: H = 0.2 + 1/2 = 0.7.
    // B: needs 5, 3 free: evict A (0.4): L = 0.4; B: H = 0.4 + 0.2 = 0.6.
    // C: hit, H = 0.4 + 2/2 = 1.4. D (8): evict B (0.6): L = 0.6; D: H = 0.6 + 1/8 = 0.725.
    // C: hit, H = 0.6 + 3/2 = 2.1. A: evict D (0.725). B: evict A (0.925), not C (2.1).
    // C: hit.
    const sizes = Uint32Array.from([5, 5, 2, 8])
    expect(hitPattern(gdsfPolicy, 'ABACBCDCABC', 10, sizes)).toBe('mmhmmhmhmmh')
    const result = gdsfPolicy({ trace: ids('ABACBCDCABC'), distinct: 4, objectSizes: sizes }, 10)
    expect(result).toEqual({ hits: 4, byteHits: 5 + 2 + 2 + 2 })
  })

  it('size-aware references evict until the object fits and never store one larger than the cache', () => {
    // Cache 10 bytes; A 4, B 4, C 6, E 11. C needs 6 with 2 free: evicting A (the LRU entry)
    // frees enough (B + C = 10), so B stays. E is larger than the cache: not stored, evicts
    // nothing, so B and C hit; A, evicted by C, misses.
    const sizes = Uint32Array.from([4, 4, 6, 1, 11])
    expect(hitPattern(lruPolicy, 'ABCEBCA', 10, sizes)).toBe('mmmmhhm')
    for (const [name, policy] of UNIT_POLICIES.filter(([n]) => n !== 'LIRS')) {
      const { hits } = policy({ trace: ids('EEEE'), distinct: 5, objectSizes: sizes }, 10)
      expect(hits, name).toBe(0)
    }
  })
})

describe('reference policies, properties', () => {
  it('LRU makes the same decisions as lru-cache', () => {
    const random = new SeededRandom(3)
    for (let run = 0; run < 20; run++) {
      const keys = 5 + random.int(200)
      const capacity = 1 + random.int(50)
      const trace = Int32Array.from({ length: 2_000 }, () => random.int(keys))
      const cache = new LRUCache<number, number>({ max: capacity })
      let hits = 0
      for (const key of trace) {
        if (cache.get(key) !== undefined) hits++
        else cache.set(key, 1)
      }
      expect(lruPolicy({ trace, distinct: keys }, capacity).hits).toBe(hits)
    }
  })

  it('no policy beats OPT, and with room for every key only the first requests miss', () => {
    const random = new SeededRandom(9)
    for (let run = 0; run < 30; run++) {
      const keys = 3 + random.int(60)
      const trace = Int32Array.from({ length: 300 + random.int(700) }, () => Math.min(keys - 1, Math.floor(keys * random.next() ** 2)))
      const capacity = 1 + random.int(keys)
      const opt = optHits(trace, capacity, keys)
      const seen = new Set(trace).size
      for (const [name, policy] of UNIT_POLICIES) {
        expect(policy({ trace, distinct: keys }, capacity).hits, name).toBeLessThanOrEqual(opt)
        expect(policy({ trace, distinct: keys }, keys).hits, name).toBe(trace.length - seen)
      }
    }
  })

  it('sized runs never hold more bytes than the capacity: byte hits are at most the bytes requested', () => {
    const random = new SeededRandom(4)
    const keys = 300
    const sizes = Uint32Array.from({ length: keys }, () => 1 + random.int(1_000))
    const trace = Int32Array.from({ length: 20_000 }, () => Math.floor(keys * random.next() ** 3))
    let bytes = 0
    for (const key of trace) bytes += sizes[key]!
    for (const [name, policy] of UNIT_POLICIES.filter(([n]) => n !== 'LIRS')) {
      const { hits, byteHits } = policy({ trace, distinct: keys, objectSizes: sizes }, 20_000)
      expect(hits, name).toBeGreaterThan(0)
      expect(byteHits, name).toBeLessThan(bytes)
    }
  })
})
