/**
 * Core benchmark: L1 hits and L2 hits against the peers users pick today, in one run, same data
 * (10,000 keys, ~1 KB JSON values).
 *
 *   npm run bench                 # both parts
 *   npm run bench -- --part l1    # or l2; --rounds N; REDIS_URL=redis://... for L2
 */
import { parseArgs } from 'node:util'
import type { Writable } from 'node:stream'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Redis } from 'ioredis'
import KeyvRedis from '@keyv/redis'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'
import { createCache } from '../src/index.js'
import { collectMetrics, collectOpenTelemetryMetrics } from '../src/metrics/index.js'
import { Registry } from 'prom-client'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import type { Contender } from './lib/harness.js'
import { compare, concurrently, median, printCpuTable, printTable, ratio } from './lib/harness.js'

const { values: args } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    rounds: { type: 'string', default: '7' },
    keys: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '64' },
  },
})
const ROUNDS = Number(args.rounds)
const N = Number(args.keys)
const CONCURRENCY = Number(args.concurrency)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A ~1 KB JSON document, like a product row with a description. */
function makeValue(i: number): Record<string, unknown> {
  return {
    id: i,
    sku: `SKU-${String(i).padStart(8, '0')}`,
    name: `Product number ${i}`,
    price: (i % 1000) / 10 + 0.99,
    inStock: i % 3 !== 0,
    tags: ['catalog', `category-${i % 50}`, `brand-${i % 20}`],
    description: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '.repeat(6),
    updatedAt: '2026-11-27T12:00:00.000Z',
  }
}

const keys = Array.from({ length: N }, (_, i) => `product:${i}`)
const values = keys.map((_, i) => makeValue(i))
console.log(`# tiercache core benchmark\n\nnode ${process.version}, ${N} keys, value ~${JSON.stringify(values[0]).length} bytes JSON, ${ROUNDS} rounds (median, min..max)`)

async function l1Part(): Promise<void> {
  const lru = new LRUCache<string, object>({ max: N * 2 })
  const tier = createCache({ namespace: 'bench-l1', ttl: '1h', l1: { maxBytes: 256 * 1024 * 1024 }, logger: false })
  const tierLru = createCache({ namespace: 'bench-l1-lru', ttl: '1h', l1: { maxBytes: 256 * 1024 * 1024, policy: 'lru' }, logger: false })
  // The same cache, measured again with both exporters attached (prom-client and OpenTelemetry) for
  // the length of the round: what they add to a hit, without a second instance's layout in the way.
  const registry = new Registry()
  const provider = new MeterProvider()
  const observed = async (ops: number): Promise<void> => {
    const prom = collectMetrics(tier, { registry })
    const otel = collectOpenTelemetryMetrics(tier, { meter: provider.getMeter('bench') })
    if (registry.getSingleMetric('tiercache_requests_total') === undefined) throw new Error('the exporter is not attached')
    for (let i = 0; i < ops; i++) if ((await tier.get(keys[i % N]!)) !== undefined) sink++
    prom.close()
    otel.close()
  }
  const bento = new BentoCache({ default: 'c', stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: N * 2, serialize: false })) } })
  const manager = createCacheManager()
  for (let i = 0; i < N; i++) {
    lru.set(keys[i]!, values[i])
    await tier.set(keys[i]!, values[i], { ttl: '1h' })
    await tierLru.set(keys[i]!, values[i], { ttl: '1h' })
    await bento.set({ key: keys[i]!, value: values[i], ttl: '1h' })
    await manager.set(keys[i]!, values[i], 3_600_000)
  }
  // Sanity: every contender really hits.
  for (const [name, v] of [['tiercache', await tier.get(keys[7]!)], ['bentocache', await bento.get({ key: keys[7]! })], ['cache-manager', await manager.get(keys[7]!)]] as const) {
    if ((v as { id?: number } | undefined)?.id !== 7) throw new Error(`${name} did not hit`)
  }
  let sink = 0
  const contenders: Contender[] = [
    { name: 'lru-cache get (sync)', ops: 4_000_000, run: (ops) => { for (let i = 0; i < ops; i++) if (lru.get(keys[i % N]!) !== undefined) sink++ } },
    // The same loop with an `await` on lru-cache's synchronous get: what any awaited API costs.
    // eslint-disable-next-line @typescript-eslint/await-thenable
    { name: 'lru-cache await get', ops: 2_000_000, run: async (ops) => { for (let i = 0; i < ops; i++) if ((await lru.get(keys[i % N]!)) !== undefined) sink++ } },
    { name: 'tiercache await get', ops: 2_000_000, run: async (ops) => { for (let i = 0; i < ops; i++) if ((await tier.get(keys[i % N]!)) !== undefined) sink++ } },
    { name: 'tiercache await get (metrics exporters attached)', ops: 2_000_000, run: observed },
    { name: 'tiercache await get (l1.policy lru)', ops: 2_000_000, run: async (ops) => { for (let i = 0; i < ops; i++) if ((await tierLru.get(keys[i % N]!)) !== undefined) sink++ } },
    { name: 'tiercache peek (sync)', ops: 4_000_000, run: (ops) => { for (let i = 0; i < ops; i++) if (tier.peek(keys[i % N]!) !== undefined) sink++ } },
    { name: 'bentocache L1 await get', ops: 100_000, run: async (ops) => { for (let i = 0; i < ops; i++) if ((await bento.get({ key: keys[i % N]! })) !== undefined) sink++ } },
    { name: 'cache-manager memory await get', ops: 200_000, run: async (ops) => { for (let i = 0; i < ops; i++) if ((await manager.get(keys[i % N]!)) !== undefined) sink++ } },
  ]
  const results = await compare(contenders, ROUNDS)
  printTable('L1 hit, sequential (one caller awaiting each get)', results, ['lru-cache get (sync)', 'lru-cache await get'])
  const plain = results.find((r) => r.name === 'tiercache await get')!
  const withExporters = results.find((r) => r.name === 'tiercache await get (metrics exporters attached)')!
  const r = ratio(withExporters, plain)
  const cpu = withExporters.cpuPerOp.map((c, i) => plain.cpuPerOp[i]! / c)
  console.log(`\nexporters attached / not attached, same cache, per round: rate ${r.median.toFixed(3)}x (${r.min.toFixed(3)}..${r.max.toFixed(3)}), ` +
    `CPU per hit ${median(cpu).toFixed(3)}x (${Math.min(...cpu).toFixed(3)}..${Math.max(...cpu).toFixed(3)}) (above 1: faster with them)`)
  if (sink === 0) throw new Error('nothing hit')
  await tier.close()
  await tierLru.close()
  await bento.disconnectAll()
  await manager.disconnect()
}

async function l2Part(): Promise<void> {
  const ns = `bench-l2-${process.pid}`
  const raw = new Redis(REDIS_URL)
  const rawPipelined = new Redis(REDIS_URL, { enableAutoPipelining: true })
  const tier = createCache({ namespace: ns, ttl: '1h', l1: false, l2: { redis: REDIS_URL }, logger: false })
  const bentoRedis = new Redis(REDIS_URL)
  const bento = new BentoCache({ default: 'c', prefix: `${ns}-bento`, stores: { c: bentostore().useL2Layer(redisDriver({ connection: bentoRedis })) } })
  const keyvRedis = new KeyvRedis(REDIS_URL)
  const manager = createCacheManager({ stores: [new Keyv({ store: keyvRedis, namespace: `${ns}-cm` })] })
  const rawKey = (k: string): string => `${ns}:raw:${k}`
  for (let i = 0; i < N; i++) {
    await raw.set(rawKey(keys[i]!), JSON.stringify(values[i]), 'EX', 3600)
    await tier.set(keys[i]!, values[i], { ttl: '1h' })
    await bento.set({ key: keys[i]!, value: values[i], ttl: '1h' })
    await manager.set(keys[i]!, values[i], 3_600_000)
  }
  for (const [name, v] of [['tiercache', await tier.get(keys[7]!)], ['bentocache', await bento.get({ key: keys[7]! })], ['cache-manager', await manager.get(keys[7]!)]] as const) {
    if ((v as { id?: number } | undefined)?.id !== 7) throw new Error(`${name} did not hit`)
  }
  let sink = 0
  const OPS = 200_000
  const rawStream = (raw as unknown as { stream: Writable }).stream
  let corked = false
  const uncork = (): void => {
    corked = false
    rawStream.uncork()
  }
  const contenders: Contender[] = [
    { name: 'ioredis GET + JSON.parse', ops: OPS, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => { const s = await raw.get(rawKey(keys[i % N]!)); if (s !== null && (JSON.parse(s) as { id: number }).id >= 0) sink++ }) },
    { name: 'ioredis (auto-pipelining) GET + JSON.parse', ops: OPS, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => { const s = await rawPipelined.get(rawKey(keys[i % N]!)); if (s !== null && (JSON.parse(s) as { id: number }).id >= 0) sink++ }) },
    // The raw client with the same write coalescing tiercache does (src/redis/write-coalescer.ts),
    // written by hand: the ceiling for a cache on this client, shown so the gain is not mistaken
    // for a trick only tiercache can play.
    { name: 'ioredis GET + JSON.parse, corked per tick', ops: OPS, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => {
      if (!corked) {
        corked = true
        rawStream.cork()
        process.nextTick(uncork)
      }
      const s = await raw.get(rawKey(keys[i % N]!))
      if (s !== null && (JSON.parse(s) as { id: number }).id >= 0) sink++
    }) },
    { name: 'tiercache get (L1 off)', ops: OPS, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => { if ((await tier.get(keys[i % N]!)) !== undefined) sink++ }) },
    { name: 'bentocache L2 get', ops: OPS / 4, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => { if ((await bento.get({ key: keys[i % N]! })) !== undefined) sink++ }) },
    { name: 'cache-manager + @keyv/redis get', ops: OPS / 4, run: (ops) => concurrently(ops, CONCURRENCY, async (i) => { if ((await manager.get(keys[i % N]!)) !== undefined) sink++ }) },
  ]
  const results = await compare(contenders, ROUNDS)
  printTable(`L2 hit (Redis on loopback), ${CONCURRENCY} concurrent callers`, results, ['ioredis GET + JSON.parse', 'ioredis (auto-pipelining) GET + JSON.parse', 'ioredis GET + JSON.parse, corked per tick'])
  printCpuTable('L2 hit: CPU per read in this process (Redis excluded)', results, 'ioredis GET + JSON.parse')
  const errors = tier.stats().l2!
  console.log(`\ntiercache L2 during the run: hits ${errors.hits}, misses ${errors.misses}, errors ${errors.errors}, timeouts ${errors.timeouts}`)
  if (sink === 0) throw new Error('nothing hit')
  // Clean up the keys this run wrote.
  for (const pattern of [`${ns}:*`, `tc1:${ns}:*`, `${ns}-*`, `*${ns}-cm*`]) {
    let cursor = '0'
    do {
      const [next, found] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (found.length > 0) await raw.unlink(...found)
    } while (cursor !== '0')
  }
  await tier.close()
  await bento.disconnectAll()
  await manager.disconnect()
  raw.disconnect()
  rawPipelined.disconnect()
}

if (args.part === 'all' || args.part === 'l1') await l1Part()
if (args.part === 'all' || args.part === 'l2') await l2Part()
