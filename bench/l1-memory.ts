/**
 * `npm run bench:l1:memory`: bytes of overhead per entry of the L1 stores and of lru-cache,
 * measured on the heap, not estimated.
 *
 * Each measurement runs in a fresh child process started with `--expose-gc`: the keys and entry
 * objects are built first and kept alive (they are the data, the same for every contender), the
 * heap is collected and read, the cache is filled with every entry, collected and read again. The
 * difference, divided by the entry count, is what the cache itself costs per entry: its Map, its
 * arrays, its links, its sketch. Typed arrays keep their contents outside the JS heap, so
 * `arrayBuffers` is added to `heapUsed` (both are reported). Repeated `--runs` times; median and
 * spread are printed.
 *
 *   npm run bench:l1:memory -- [--entries 10000,100000] [--runs 5] [--json]
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../src/ports/entry.js'
import { ManualClock } from '../src/core/manual-clock.js'
import { LruStore } from '../src/l1/lru-store.js'
import { TinyLfuStore } from '../src/l1/tinylfu/tinylfu-store.js'
import { median, spread } from './l1-stats.js'

const CONTENDERS = ['tiercache tinylfu', 'tiercache lru', 'lru-cache', 'lru-cache (ttl)'] as const
type Contender = (typeof CONTENDERS)[number]

interface Sample {
  readonly heap: number
  readonly arrayBuffers: number
}

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '10000,100000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    count: { type: 'string' },
  },
})

if (values.child !== undefined) {
  process.stdout.write(JSON.stringify(measure(values.child as Contender, Number(values.count))))
} else {
  const rows = []
  for (const n of values.entries.split(',').map(Number)) {
    const samples = new Map<Contender, Sample[]>(CONTENDERS.map((c) => [c, []]))
    // Interleave the contenders across runs, each run a fresh process.
    for (let run = 0; run < Number(values.runs); run++) {
      for (const contender of CONTENDERS) {
        const child = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(import.meta.url),
          '--child', contender, '--count', String(n)], { encoding: 'utf8' })
        if (child.status !== 0) throw new Error(`${contender} failed: ${child.stderr}`)
        samples.get(contender)!.push(JSON.parse(child.stdout) as Sample)
      }
    }
    for (const contender of CONTENDERS) {
      const s = samples.get(contender)!
      const total = s.map((x) => (x.heap + x.arrayBuffers) / n)
      rows.push({ entries: n, contender, bytesPerEntry: median(total), spread: spread(total),
        heapPerEntry: median(s.map((x) => x.heap / n)), arrayBuffersPerEntry: median(s.map((x) => x.arrayBuffers / n)) })
    }
  }
  if (values.json) {
    for (const row of rows) console.log(JSON.stringify(row))
  } else {
    console.log(`| entries | cache | bytes per entry (min–max over ${values.runs} runs) | of which JS heap | of which typed arrays |`)
    console.log('| --- | --- | --- | --- | --- |')
    for (const r of rows) {
      console.log(`| ${r.entries.toLocaleString('en')} | ${r.contender} | **${r.bytesPerEntry.toFixed(0)}** (${r.spread[0].toFixed(0)}–${r.spread[1].toFixed(0)}) | ` +
        `${r.heapPerEntry.toFixed(0)} | ${r.arrayBuffersPerEntry.toFixed(0)} |`)
    }
  }
}

function measure(contender: Contender, n: number): Sample {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const keys = Array.from({ length: n }, (_, i) => `user:${i}:profile`)
  const entries = keys.map((key, i): CacheEntry => ({ value: { id: i }, size: 64, createdAt: 0, freshUntil: 8.64e15, staleUntil: 8.64e15, tags: [], loadMs: 1 }))
  const clock = new ManualClock(0)
  const settle = (): Sample => {
    for (let i = 0; i < 4; i++) gc()
    const m = process.memoryUsage()
    return { heap: m.heapUsed, arrayBuffers: m.arrayBuffers }
  }
  const before = settle()
  let cache: unknown
  switch (contender) {
    case 'tiercache tinylfu': {
      const store = new TinyLfuStore({ maxBytes: n, clock, weigher: () => 1 })
      for (let i = 0; i < n; i++) store.set(keys[i] as string, entries[i] as CacheEntry)
      if (store.stats().entries !== n) throw new Error('tinylfu did not keep every entry')
      cache = store
      break
    }
    case 'tiercache lru': {
      const store = new LruStore({ maxBytes: n, clock, weigher: () => 1 })
      for (let i = 0; i < n; i++) store.set(keys[i] as string, entries[i] as CacheEntry)
      cache = store
      break
    }
    case 'lru-cache': {
      const lru = new LRUCache<string, CacheEntry>({ max: n })
      for (let i = 0; i < n; i++) lru.set(keys[i] as string, entries[i])
      cache = lru
      break
    }
    case 'lru-cache (ttl)': {
      const lru = new LRUCache<string, CacheEntry>({ max: n, ttl: 3_600_000 })
      for (let i = 0; i < n; i++) lru.set(keys[i] as string, entries[i])
      cache = lru
      break
    }
  }
  const after = settle()
  // Keep the data and the cache alive until after the measurement.
  if (keys.length !== entries.length || cache === undefined) throw new Error('unreachable')
  return { heap: after.heap - before.heap, arrayBuffers: after.arrayBuffers - before.arrayBuffers }
}
