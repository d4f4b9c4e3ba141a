/**
 * `npm run bench:l1:instructions`: CPU instructions per L1 operation, counted by valgrind's
 * callgrind, for tiercache's store and lru-cache. Instruction counts barely move with background
 * load, unlike times on a shared machine, so they are the repeatable evidence for a hit-path change
 * (times from `npm run bench:l1` remain the measure that matters; instructions ignore cache misses).
 *
 * Each count is the difference between two runs of a child process that differ only in the number
 * of measured operations (N and 2N), divided by N: start-up, loading and filling cancel out.
 * Same keys, entries and access sequences as `bench/l1-speed.ts`. Needs `valgrind` (apt-get install
 * valgrind); slow (about a minute per row).
 *
 *   npm run bench:l1:instructions -- [--sizes 1000,10000,100000] [--ops 200000]
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LRUCache } from 'lru-cache'
import type { CacheEntry } from '../src/ports/entry.js'
import { systemClock } from '../src/core/clock.js'
import { TinyLfuStore } from '../src/l1/tinylfu/tinylfu-store.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    ops: { type: 'string', default: '200000' },
    child: { type: 'string' },
    store: { type: 'string' },
    op: { type: 'string' },
  },
})
const ops = Number(values.ops)
const STORES = ['tiercache', 'lru-cache'] as const
const OPS = ['get', 'set'] as const

if (values.child !== undefined) {
  runChild(Number(values.child), values.store as (typeof STORES)[number], values.op as (typeof OPS)[number], ops)
} else {
  console.log('| entries | op | tiercache instructions/op | lru-cache instructions/op | lru-cache ÷ tiercache |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const size of values.sizes.split(',').map(Number)) {
    for (const op of OPS) {
      const per = STORES.map((store) => (count(size, store, op, 2 * ops) - count(size, store, op, ops)) / ops)
      const [mine, theirs] = per as [number, number]
      console.log(`| ${size.toLocaleString('en')} | ${op === 'get' ? 'get (hit)' : 'set (evicting)'} | ${mine.toFixed(0)} | ${theirs.toFixed(0)} | **${(theirs / mine).toFixed(2)}** |`)
    }
  }
}

/** Total instructions of one child run under callgrind. */
function count(size: number, store: string, op: string, n: number): number {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...process.execArgv,
    fileURLToPath(import.meta.url), '--child', String(size), '--store', store, '--op', op, '--ops', String(n)], { encoding: 'utf8', maxBuffer: 1 << 26 })
  const match = /Collected\s*:\s*(\d+)/.exec(run.stderr)
  if (run.status !== 0 || match === null) throw new Error(`callgrind run failed (is valgrind installed?): ${run.error?.message ?? run.stderr.slice(-2000)}`)
  return Number(match[1])
}

function runChild(size: number, store: (typeof STORES)[number], op: (typeof OPS)[number], n: number): void {
  const universe = size * 4
  const keys = Array.from({ length: universe }, (_, i) => `user:${i}:profile`)
  const entries = keys.map((key, i): CacheEntry => ({ value: { id: i, key }, size: 64, createdAt: 0, freshUntil: 8.64e15, staleUntil: 8.64e15, tags: [], loadMs: 1 }))
  const seq = sequence(n, op === 'get' ? size : universe, op === 'get' ? 1 : 2)
  // Filled with the keys a get reads (every get hits), or with other keys (every set evicts).
  const first = op === 'get' ? 0 : universe - size
  let sum = 0
  if (store === 'tiercache') {
    const cache = new TinyLfuStore({ maxBytes: size, clock: systemClock, weigher: () => 1 })
    for (let i = first; i < first + size; i++) cache.set(keys[i] as string, entries[i] as CacheEntry)
    if (op === 'get') for (let i = 0; i < n; i++) sum += cache.get(keys[seq[i] as number] as string) === undefined ? 0 : 1
    else for (let i = 0; i < n; i++) cache.set(keys[seq[i] as number] as string, entries[seq[i] as number] as CacheEntry)
  } else {
    const cache = new LRUCache<string, CacheEntry>({ max: size })
    for (let i = first; i < first + size; i++) cache.set(keys[i] as string, entries[i])
    if (op === 'get') for (let i = 0; i < n; i++) sum += cache.get(keys[seq[i] as number] as string) === undefined ? 0 : 1
    else for (let i = 0; i < n; i++) cache.set(keys[seq[i] as number] as string, entries[seq[i] as number])
  }
  if (op === 'get' && sum !== n) throw new Error(`${store} missed ${n - sum} reads of resident keys`)
}

/** `n` indexes in [0, range), xorshift-random (as in bench/l1-speed.ts). */
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
