/**
 * The observing process of `npm run bench:cdc`: a cache with its own connections (L1 + Redis L2,
 * following the namespace's bus) that reports, for each key its L1 is told to drop, the moment it
 * was told (wall clock with sub-millisecond precision: the writer runs on the same host). Events
 * are sent to the parent in batches; the time is taken when the event happens, not when sent.
 *   node --import tsx bench/lib/cdc-observer.ts <redisUrl> <namespace>
 */
import diagnostics from 'node:diagnostics_channel'
import { createCache } from '../../src/index.js'

const [redisUrl, namespace] = process.argv.slice(2)
if (redisUrl === undefined || namespace === undefined) throw new Error('usage: cdc-observer <redisUrl> <namespace>')
const cache = createCache({ namespace, l2: { redis: redisUrl } })
let pending: [string, number][] = []
diagnostics.subscribe('tiercache:invalidated', (message) => {
  const { keys, namespace: ns } = message as { keys?: string[]; namespace: string }
  if (ns !== namespace || keys === undefined) return
  const at = performance.timeOrigin + performance.now()
  for (const key of keys) pending.push([key, at])
})
setInterval(() => {
  if (pending.length === 0) return
  process.send!(pending)
  pending = []
}, 20)
await cache.ready()
process.send!('ready')
process.on('disconnect', () => { void cache.close().then(() => process.exit(0)) })
