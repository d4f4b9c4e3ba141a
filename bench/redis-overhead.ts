/**
 * `npm run bench:redis:overhead`: what one cached entry costs in Redis beyond its value, and what
 * one read costs Redis in CPU: the two Redis figures `tiercache plan` sizes shards with.
 *
 * A private redis-server on a free port (never the machine's 6379), no persistence. Memory: the
 * catalog's entries (`product:<id>` keys, tag `product:<id>`, version, ttl and grace, as the catalog
 * caches them) are written through tiercache with L1 off, `--entries` of them with a JSON value of
 * `--value-bytes`; `used_memory` before and after, divided by the entries, minus the value's bytes:
 * the per-entry overhead (key, envelope, expiry, tag bookkeeping, Redis's own structures).
 * CPU: `--reads` GETs through tiercache (L1 off, 64 callers), Redis's `used_cpu_user + used_cpu_sys`
 * before and after, divided by the reads: µs of Redis CPU per read, and reads per Redis core-second.
 *
 *   npm run bench:redis:overhead -- [--entries 100000] [--value-bytes 1024] [--reads 200000] [--json]
 */
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { createCache } from '../src/index.js'
import { startRedisServer } from '../test/services/services.js'

const { values } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    'value-bytes': { type: 'string', default: '1024' },
    reads: { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
  },
})
const entries = Number(values.entries)
const valueBytes = Number(values['value-bytes'])
const reads = Number(values.reads)

const redis = await startRedisServer()
const client = new Redis(redis.url)
try {
  const info = async (section: string, field: string): Promise<number> => {
    const text = await client.info(section)
    const match = new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text)
    if (match === null) throw new Error(`INFO ${section} has no ${field}`)
    return Number(match[1])
  }
  // A generous timeout: this measures memory and CPU, not what a caller does when Redis is slow.
  const cache = createCache({ namespace: 'catalog', l1: false, l2: { redis: redis.url, timeout: '5s' } })
  // A value whose JSON is about valueBytes long (the catalog's rows are ~150 bytes; a page ~1 KB).
  const value = (id: number): { id: number; body: string } => ({ id, body: 'x'.repeat(Math.max(0, valueBytes - 20 - String(id).length)) })
  const jsonBytes = Buffer.byteLength(JSON.stringify(value(entries)))
  await cache.set('product:0', value(0), { tags: ['product:0'], ttl: '60s', grace: '1h' })
  const before = await info('memory', 'used_memory')
  const BATCH = 500
  for (let from = 1; from <= entries; from += BATCH) {
    const batch = []
    for (let id = from; id < Math.min(entries + 1, from + BATCH); id++) batch.push(cache.set(`product:${id}`, value(id), { tags: [`product:${id}`], ttl: '60s', grace: '1h' }))
    await Promise.all(batch)
  }
  const after = await info('memory', 'used_memory')
  const keys = await client.dbsize()
  const perEntry = (after - before) / entries

  const cpu = async (): Promise<number> => (await info('cpu', 'used_cpu_user')) + (await info('cpu', 'used_cpu_sys'))
  const cpuBefore = await cpu()
  let next = 0
  const caller = async (): Promise<void> => {
    while (next < reads) {
      const id = 1 + (next++ % entries)
      await cache.get(`product:${id}`)
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: 64 }, caller))
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = (await cpu()) - cpuBefore
  const l2 = cache.stats().l2
  if (l2 === undefined || l2.hits !== reads || l2.errors + l2.timeouts + l2.skipped > 0) throw new Error(`not every read was an L2 hit: ${JSON.stringify(l2)}`)
  if (keys < entries) throw new Error(`only ${keys} keys in Redis for ${entries} entries`)
  await cache.close()

  const result = {
    redis: (await client.info('server')).match(/redis_version:(\S+)/)?.[1],
    entries,
    keysInRedis: keys,
    valueJsonBytes: jsonBytes,
    bytesPerEntry: Math.round(perEntry),
    overheadBytesPerEntry: Math.round(perEntry - jsonBytes),
    reads,
    l2Hits: l2?.hits,
    readsPerSecondClient: Math.round(reads / seconds),
    redisCpuUsPerRead: Number(((cpuSeconds * 1e6) / reads).toFixed(2)),
    readsPerRedisCoreSecond: Math.round(reads / cpuSeconds),
  }
  if (values.json) console.log(JSON.stringify(result, null, 2))
  else {
    console.log(`Redis ${result.redis}: ${entries} catalog entries of ${jsonBytes} bytes of JSON (${keys} keys in Redis)`)
    console.log(`  memory: ${result.bytesPerEntry} bytes per entry, of which ${result.overheadBytesPerEntry} beyond the value`)
    console.log(`  reads:  ${reads} tiercache gets (L1 off, 64 callers): ${result.readsPerSecondClient}/s client side, ${result.redisCpuUsPerRead} µs of Redis CPU per read = ${result.readsPerRedisCoreSecond} reads per Redis core-second`)
  }
} finally {
  client.disconnect()
  await redis.stop()
}
