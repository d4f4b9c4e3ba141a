import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import type { TierCache } from '../../src/core/cache.js'
import { ManualClock } from '../../src/core/manual-clock.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { ChaosStore } from '../helpers/chaos-store.js'

const open: TierCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})

/** A real pino logger writing JSON lines into an array. */
function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk.toString()); done() } })
  const logger = pino({ base: null, timestamp: false }, sink)
  return {
    logger,
    lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}

describe('logger port', () => {
  it('takes a pino logger as it is: the context arrives as fields, the message as msg', async () => {
    const { logger, lines } = capture()
    const clock = new ManualClock()
    const l2 = new ChaosStore(new LruStore({ maxBytes: 1 << 20, clock }))
    const cache = createCache({ clock, logger, l2: { store: l2, timeout: 50, breakerThreshold: 2, breakerCooldown: 1_000 } })
    open.push(cache)
    l2.mode = 'fail'
    for (let i = 0; i < 5; i++) await cache.getOrSet(`k${i}`, () => i)
    const out = lines()
    expect(out).toHaveLength(1)
    expect(out[0]).toMatchObject({ level: 40, msg: 'L2 unavailable: circuit breaker open, serving from other tiers', error: 'chaos: store failure' })
  })
})
