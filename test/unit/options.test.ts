import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/compose/create-cache.js'
import { parseDuration } from '../../src/core/duration.js'
import { resolveOptions } from '../../src/compose/options.js'

describe('durations', () => {
  it.each([
    [250, 250], ['250ms', 250], ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['1d', 86_400_000], ['1.5s', 1_500], [0, 0], ['0s', 0],
  ])('parses %j as %d ms', (input, ms) => {
    expect(parseDuration(input, 'ttl')).toBe(ms)
  })

  it.each([['5'], ['5 minutes'], ['-1s'], [-1], [Number.NaN], [Number.POSITIVE_INFINITY], [null], [{}], ['1w'], ['']])('rejects %j naming the option', (input) => {
    expect(() => parseDuration(input, 'grace')).toThrow(/^expected grace to be a duration/)
  })
})

describe('createCache options are validated once, with messages that name the option', () => {
  const cases: [string, unknown, string][] = [
    ['l1.maxBytes as a string', { l1: { maxBytes: '64mb' } }, 'expected l1.maxBytes to be a positive integer, got "64mb"'],
    ['l1.maxBytes zero', { l1: { maxBytes: 0 } }, 'expected l1.maxBytes to be a positive integer, got number 0'],
    ['l1.policy unknown', { l1: { policy: 'arc' } }, 'expected l1.policy to be'],
    ['ttl unitless', { ttl: '5' }, 'expected ttl to be a duration'],
    ['namespace with braces', { namespace: 'a{b}' }, 'expected namespace to be a string of 1 to 64 characters'],
    ['two l2 sources', { l2: { redis: 'redis://x', cluster: [{ host: 'h', port: 1 }] } }, 'expected l2 to be an object with exactly one of redis, cluster, client or store, got "redis and cluster"'],
    ['no l2 source', { l2: {} }, 'expected l2 to be an object with exactly one of'],
    ['l2.redis not a url', { l2: { redis: 'localhost:6379' } }, 'expected l2.redis to be a redis:// or rediss:// URL'],
    ['l2.cluster empty', { l2: { cluster: [] } }, 'expected l2.cluster to be a non-empty array of { host, port }'],
    ['l2.timeout zero', { l2: { redis: 'redis://x', timeout: 0 } }, 'expected l2.timeout to be a duration greater than zero'],
    ['serializer unknown', { serializer: 'xml' }, "expected serializer to be 'json', 'v8' or a Serializer"],
    ['maxValueBytes negative', { maxValueBytes: -1 }, 'expected maxValueBytes to be a positive integer'],
    ['logger wrong', { logger: 'console' }, 'expected logger to be false or an object'],
    ['options not an object', 'fast', 'expected options to be an object'],
  ]
  for (const [name, options, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => createCache(options as never)).toThrow(message)
      try {
        createCache(options as never)
      } catch (error) {
        expect(error).toMatchObject({ code: 'E_INVALID_OPTION' })
      }
    })
  }

  it('fills defaults and freezes the result', () => {
    const o = resolveOptions({})
    expect(o.settings).toMatchObject({ namespace: 'default', ttl: 300_000, grace: 0, maxValueBytes: 8 * 1024 * 1024 })
    expect(Object.isFrozen(o)).toBe(true)
    expect(Object.isFrozen(o.settings)).toBe(true)
    expect(o.l1 && Object.isFrozen(o.l1)).toBe(true)
  })

  it('rejects bad per-call options at the call', async () => {
    const cache = createCache({ logger: false })
    await expect(cache.set('k', 1, { ttl: 'soon' as never })).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'ttl' } })
    await expect(cache.getOrSet('k', () => 1, { timeout: 0 })).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'timeout' } })
    await expect(cache.getOrSet('k', 'not a function' as never)).rejects.toMatchObject({ code: 'E_INVALID_OPTION', context: { option: 'loader' } })
    await cache.close()
  })
})
