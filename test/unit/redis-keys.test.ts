import { describe, expect, it } from 'vitest'
import calculateSlot from 'cluster-key-slot'
import { KEY_LAYOUT_VERSION, RedisKeys } from '../../src/redis/keys.js'

describe('Redis key layout v1 (src/redis/keys.ts)', () => {
  const keys = new RedisKeys('shop')

  it('pins every key name', () => {
    expect(KEY_LAYOUT_VERSION).toBe(1)
    expect(keys.prefix).toBe('tc1:shop:')
    expect(keys.entry('p:1')).toBe('tc1:shop:e:{p:1}')
    expect(keys.lease('p:1')).toBe('tc1:shop:l:{p:1}')
    expect(keys.tombstone('p:1')).toBe('tc1:shop:v:{p:1}')
    expect(keys.tag('item:1')).toBe('tc1:shop:c:{shop}:t:item:1')
    expect(keys.bus).toBe('tc1:shop:c:{shop}:bus')
    expect(keys.epoch).toBe('tc1:shop:c:{shop}:epoch')
    expect(keys.lock('job')).toBe('tc1:shop:k:{job}')
    expect(keys.lockFence('job')).toBe('tc1:shop:k:{job}:fence')
    expect(keys.queue('orders')).toEqual({
      stream: 'tc1:shop:q:{shop/orders}:s',
      dead: 'tc1:shop:q:{shop/orders}:dead',
      seq: 'tc1:shop:q:{shop/orders}:seq',
      heartbeatPrefix: 'tc1:shop:q:{shop/orders}:hb:',
    })
    expect(keys.prefixPatterns('user:')).toEqual({ leases: 'tc1:shop:l:{user:*', entries: 'tc1:shop:e:{user:*' })
  })

  it('keeps what one script touches in one Cluster slot', () => {
    for (const key of ['p:1', 'a{b}c', '{x}', 'héllo']) {
      const slot = calculateSlot(keys.entry(key))
      expect(calculateSlot(keys.lease(key))).toBe(slot)
      expect(calculateSlot(keys.tombstone(key))).toBe(slot)
    }
    const q = keys.queue('orders')
    const slot = calculateSlot(q.stream)
    expect([q.dead, q.seq, `${q.heartbeatPrefix}consumer-1`].map((k) => calculateSlot(k))).toEqual([slot, slot, slot])
    expect(calculateSlot(keys.bus)).toBe(calculateSlot(keys.tag('t')))
  })

  it('escapes glob characters in prefix patterns', () => {
    expect(keys.prefixPatterns('a*b?[c]\\').entries).toBe('tc1:shop:e:{a\\*b\\?\\[c\\]\\\\*')
    expect(() => keys.queue('a{b}')).toThrow(/braces/)
  })
})
