import { describe, expect, it } from 'vitest'
import { isTierCacheError } from '../../src/core/errors.js'
import { PurgeFence } from '../../src/edge/purge-fence.js'
import { bearerMatches, parsePurgeRequest } from '../../src/edge/purge.js'

describe('purge requests', () => {
  it('accepts tags, urls (paths or absolute URLs), prefixes and soft', () => {
    expect(parsePurgeRequest({ tags: ['item:42', 'item:42'], urls: ['https://shop.example/a?x=1'], prefixes: ['/b/'], soft: true }))
      .toEqual({ tags: ['item:42'], urls: ['/a?x=1'], prefixes: ['/b/'], soft: true })
  })

  it('refuses anything else with E_PURGE_INVALID', () => {
    for (const bad of [null, [], 'tags', {}, { tags: 'item:1' }, { tags: [''] }, { tags: [1] }, { urls: ['relative'] },
      { tags: ['a\nb'] }, { tags: ['x'], soft: 'yes' }, { tags: ['x'], extra: 1 }, { tags: ['x'.repeat(1025)] },
      { tags: Array.from({ length: 1001 }, (_, i) => `t${i}`) }]) {
      try {
        parsePurgeRequest(bad)
        expect.unreachable(JSON.stringify(bad).slice(0, 80))
      } catch (error) {
        expect(isTierCacheError(error, 'E_PURGE_INVALID')).toBe(true)
      }
    }
  })

  it('checks the bearer token (and refuses everything when no token is configured)', () => {
    const token = 'a-long-enough-token'
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true)
    expect(bearerMatches(`bearer   ${token}`, token)).toBe(true)
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false)
    expect(bearerMatches(`Bearer ${token.slice(1)}`, token)).toBe(false)
    expect(bearerMatches(token, token)).toBe(false)
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false)
    expect(bearerMatches(undefined, token)).toBe(false)
    expect(bearerMatches(`Bearer ${token}`, undefined)).toBe(false)
    expect(bearerMatches('Bearer ', '')).toBe(false)
  })
})

describe('purge fence', () => {
  it('refuses fills that started before a matching purge, admits the rest', () => {
    const fence = new PurgeFence(30_000)
    const before = fence.ticket()
    fence.record({ tags: ['item:1'] }, 1000)
    const middle = fence.ticket()
    fence.record({ urls: ['/a'] }, 1000)
    fence.record({ prefixes: ['/p/'] }, 1000)
    expect(fence.admits(before, undefined, '/x', ['item:1'], 1000)).toBe(false)
    expect(fence.admits(middle, undefined, '/x', ['item:1'], 1000)).toBe(true)
    expect(fence.admits(middle, undefined, '/a', [], 1000)).toBe(false)
    expect(fence.admits(middle, undefined, '/p/1', [], 1000)).toBe(false)
    expect(fence.admits(before, undefined, '/q/1', ['item:2'], 1000)).toBe(true)
    expect(fence.admits(fence.ticket(), undefined, '/a', ['item:1'], 1000)).toBe(true)
    // Outside the window the purge is forgotten.
    expect(fence.admits(before, undefined, '/x', ['item:1'], 40_000)).toBe(true)
  })

  it('refuses an upstream copy generated before a purge, even when the fill started after it', () => {
    const fence = new PurgeFence(30_000)
    fence.record({ tags: ['item:1'] }, 5000)
    const ticket = fence.ticket()
    expect(fence.admits(ticket, 4000, '/x', ['item:1'], 6000)).toBe(false)
    expect(fence.admits(ticket, 5500, '/x', ['item:1'], 6000)).toBe(true)
    expect(fence.admits(ticket, 4000, '/x', ['item:2'], 6000)).toBe(true)
  })

  it('stays safe when it has to forget early: older fills are refused', () => {
    const fence = new PurgeFence(60_000, 2)
    const first = fence.ticket()
    fence.record({ tags: ['a'] }, 1000)
    const second = fence.ticket()
    fence.record({ tags: ['b'] }, 2000)
    fence.record({ tags: ['c'] }, 3000)
    expect(fence.admits(first, undefined, '/x', ['zzz'], 3000)).toBe(false)
    expect(fence.admits(second, undefined, '/x', ['zzz'], 3000)).toBe(true)
    expect(fence.admits(second, undefined, '/x', ['b'], 3000)).toBe(false)
    const third = fence.ticket()
    fence.record({ all: true }, 4000)
    expect(fence.admits(third, undefined, '/anything', [], 4000)).toBe(false)
  })
})
