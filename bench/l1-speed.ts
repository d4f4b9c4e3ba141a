/**
 * `npm run bench:l1`: the L1 store's hit-path `get` and `set` with eviction against lru-cache,
 * same keys, same values, same run.
 *
 * Each cache size runs in a fresh child process (no JIT state shared between sizes). Inside it,
 * every contender runs one batch per round, the order alternating each round, so background load
 * on this shared machine lands on all of them; results are the median over rounds with the min-max
 * spread, and the ratio is taken per round (tiercache ops/s ÷ lru-cache ops/s) before the median.
 *
 *   npm run bench:l1 -- [--sizes 1000,10000,100000] [--rounds 21] [--ops 1000000] [--json]
 *
 * Contenders: tiercache's TinyLfuStore (unit weights, `maxBytes` = entries, as lru-cache's `max`),
 * lru-cache with `max` (its fastest configuration: the limit), and lru-cache with a `ttl` (the
 * like-for-like peer: tiercache's store checks expiry on every hit). The same store with
 * `adaptive: false` runs too, to show what the hill climber's sampling costs; it is not a
 * recommended setting (a fixed window loses up to 30 points on some traces: BENCHMARKS.md).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../src/ports/entry.js'
import { systemClock } from '../src/core/clock.js'
import { TinyLfuStore } from '../src/l1/tinylfu/tinylfu-store.js'
import { median, spread } from './l1-stats.js'

interface Measured {
  readonly op: 'get (hit)' | 'set (evicting)'
  readonly contender: string
  readonly nsPerOp: readonly number[]
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    rounds: { type: 'string', default: '21' },
    ops: { type: 'string', default: '1000000' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
})
const rounds = Number(values.rounds)
const ops = Number(values.ops)

if (values.child !== undefined) {
  process.stdout.write(JSON.stringify(runSize(Number(values.child))))
} else {
  const rows = []
  for (const size of values.sizes.split(',').map(Number)) {
    // A fresh process per size, with the same loader flags as this one.
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url),
      '--child', String(size), '--rounds', String(rounds), '--ops', String(ops)], { encoding: 'utf8', maxBuffer: 1 << 26 })
    if (child.status !== 0) throw new Error(`size ${size} failed: ${child.stderr}`)
    const measured = JSON.parse(child.stdout) as Measured[]
    for (const op of ['get (hit)', 'set (evicting)'] as const) {
      const of = (name: string): readonly number[] => measured.find((m) => m.op === op && m.contender === name)!.nsPerOp
      for (const [contender, peer] of [['tiercache', 'lru-cache'], ['tiercache', 'lru-cache (ttl)'],
        ['tiercache (fixed window)', 'lru-cache']] as const) {
        const mine = of(contender)
        const theirs = of(peer)
        const ratios = mine.map((ns, i) => (theirs[i] as number) / ns)
        rows.push({ size, op, contender, peer, tiercacheNs: median(mine), tiercacheSpread: spread(mine), peerNs: median(theirs),
          peerSpread: spread(theirs), ratio: median(ratios), ratioSpread: spread(ratios) })
      }
    }
  }
  if (values.json) {
    for (const row of rows) console.log(JSON.stringify(row))
  } else {
    console.log(`| entries | op | store | ns/op (min–max) | peer | peer ns/op (min–max) | speed ÷ peer (min–max over ${rounds} rounds) |`)
    console.log('| --- | --- | --- | --- | --- | --- | --- |')
    const f = (x: number): string => x.toFixed(1)
    for (const r of rows) {
      console.log(`| ${r.size.toLocaleString('en')} | ${r.op} | ${r.contender} | ${f(r.tiercacheNs)} (${f(r.tiercacheSpread[0])}–${f(r.tiercacheSpread[1])}) | ${r.peer} | ` +
        `${f(r.peerNs)} (${f(r.peerSpread[0])}–${f(r.peerSpread[1])}) | **${r.ratio.toFixed(2)}×** (${r.ratioSpread[0].toFixed(2)}–${r.ratioSpread[1].toFixed(2)}) |`)
    }
  }
}

/** Measures every contender at one cache size; returns ns/op per round. */
function runSize(size: number): Measured[] {
  const universe = size * 4
  const keys = Array.from({ length: universe }, (_, i) => `user:${i}:profile`)
  const entries = keys.map((key, i) => makeEntry(key, i))
  // Same pseudo-random access sequences for every contender.
  const hitSequence = sequence(ops, size, 1)
  const setSequence = sequence(ops, universe, 2)

  const tiercache = (adaptive = true): TinyLfuStore =>
    new TinyLfuStore({ maxBytes: size, clock: systemClock, weigher: () => 1, adaptive })
  const lru = (): LRUCache<string, CacheEntry> => new LRUCache<string, CacheEntry>({ max: size })
  const lruTtl = (): LRUCache<string, CacheEntry> => new LRUCache<string, CacheEntry>({ max: size, ttl: 3_600_000 })

  // Hit path: each cache holds exactly the `size` keys the sequence reads.
  const ours = tiercache()
  const oursFixed = tiercache(false)
  const theirs = lru()
  const theirsTtl = lruTtl()
  for (let i = 0; i < size; i++) {
    ours.set(keys[i] as string, entries[i] as CacheEntry)
    oursFixed.set(keys[i] as string, entries[i] as CacheEntry)
    theirs.set(keys[i] as string, entries[i])
    theirsTtl.set(keys[i] as string, entries[i])
  }
  // Sets: each cache starts full of other keys, so every new key evicts.
  const oursSet = tiercache()
  const oursFixedSet = tiercache(false)
  const theirsSet = lru()
  const theirsTtlSet = lruTtl()
  for (let i = 0; i < size; i++) {
    oursSet.set(keys[universe - 1 - i] as string, entries[universe - 1 - i] as CacheEntry)
    oursFixedSet.set(keys[universe - 1 - i] as string, entries[universe - 1 - i] as CacheEntry)
    theirsSet.set(keys[universe - 1 - i] as string, entries[universe - 1 - i])
    theirsTtlSet.set(keys[universe - 1 - i] as string, entries[universe - 1 - i])
  }

  const contenders: { op: Measured['op']; contender: string; run: () => number }[] = [
    { op: 'get (hit)', contender: 'tiercache', run: () => getTier(ours, keys, hitSequence) },
    { op: 'get (hit)', contender: 'tiercache (fixed window)', run: () => getTier(oursFixed, keys, hitSequence) },
    { op: 'get (hit)', contender: 'lru-cache', run: () => getLru(theirs, keys, hitSequence) },
    { op: 'get (hit)', contender: 'lru-cache (ttl)', run: () => getLruTtl(theirsTtl, keys, hitSequence) },
    { op: 'set (evicting)', contender: 'tiercache', run: () => setTier(oursSet, keys, entries, setSequence) },
    { op: 'set (evicting)', contender: 'tiercache (fixed window)', run: () => setTier(oursFixedSet, keys, entries, setSequence) },
    { op: 'set (evicting)', contender: 'lru-cache', run: () => setLru(theirsSet, keys, entries, setSequence) },
    { op: 'set (evicting)', contender: 'lru-cache (ttl)', run: () => setLruTtl(theirsTtlSet, keys, entries, setSequence) },
  ]
  const ns = contenders.map(() => [] as number[])
  for (let round = -2; round < rounds; round++) {
    const order = round % 2 === 0 ? contenders.map((_, i) => i) : contenders.map((_, i) => contenders.length - 1 - i)
    for (const i of order) {
      const start = process.hrtime.bigint()
      const checksum = (contenders[i] as (typeof contenders)[number]).run()
      const elapsed = Number(process.hrtime.bigint() - start)
      if (checksum < 0) throw new Error('unreachable')
      // The first two rounds warm the JIT and are not recorded.
      if (round >= 0) (ns[i] as number[]).push(elapsed / ops)
    }
  }
  const hits = getTier(ours, keys, hitSequence)
  if (hits !== ops) throw new Error(`tiercache missed ${ops - hits} of ${ops} reads of resident keys`)
  return contenders.map((c, i) => ({ op: c.op, contender: c.contender, nsPerOp: ns[i] as number[] }))
}

// One monomorphic loop per contender, so no call site sees two cache classes.
function getTier(cache: TinyLfuStore, keys: readonly string[], seq: Int32Array): number {
  let hits = 0
  for (let i = 0; i < seq.length; i++) if (cache.get(keys[seq[i] as number] as string) !== undefined) hits++
  return hits
}

function getLru(cache: LRUCache<string, CacheEntry>, keys: readonly string[], seq: Int32Array): number {
  let hits = 0
  for (let i = 0; i < seq.length; i++) if (cache.get(keys[seq[i] as number] as string) !== undefined) hits++
  return hits
}

function getLruTtl(cache: LRUCache<string, CacheEntry>, keys: readonly string[], seq: Int32Array): number {
  let hits = 0
  for (let i = 0; i < seq.length; i++) if (cache.get(keys[seq[i] as number] as string) !== undefined) hits++
  return hits
}

function setTier(cache: TinyLfuStore, keys: readonly string[], entries: readonly CacheEntry[], seq: Int32Array): number {
  for (let i = 0; i < seq.length; i++) {
    const k = seq[i] as number
    cache.set(keys[k] as string, entries[k] as CacheEntry)
  }
  return cache.stats().entries
}

function setLru(cache: LRUCache<string, CacheEntry>, keys: readonly string[], entries: readonly CacheEntry[], seq: Int32Array): number {
  for (let i = 0; i < seq.length; i++) {
    const k = seq[i] as number
    cache.set(keys[k] as string, entries[k])
  }
  return cache.size
}

function setLruTtl(cache: LRUCache<string, CacheEntry>, keys: readonly string[], entries: readonly CacheEntry[], seq: Int32Array): number {
  for (let i = 0; i < seq.length; i++) {
    const k = seq[i] as number
    cache.set(keys[k] as string, entries[k])
  }
  return cache.size
}

function makeEntry(key: string, i: number): CacheEntry {
  return { value: { id: i, key }, size: 64, createdAt: 0, freshUntil: 8.64e15, staleUntil: 8.64e15, tags: [], loadMs: 1 }
}

/** `n` indexes in [0, range), xorshift-random, the same for every contender. */
function sequence(n: number, range: number, seed: number): Int32Array {
  const out = new Int32Array(n)
  let x = seed * 0x9e3779b9 | 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = (x >>> 0) % range
  }
  return out
}
