import { describe, expect, it } from 'vitest'
import { isTierCacheError } from '../../src/core/errors.js'
import { createEdge } from '../../src/edge/index.js'
import type { EdgeOptions } from '../../src/edge/index.js'

// A misspelt option silently falls back to its default (no purge token, no timeout...): refuse it.

function refusal(options: unknown): string {
  try {
    const edge = createEdge(options as EdgeOptions)
    void edge.close()
  } catch (error) {
    if (isTierCacheError(error, 'E_INVALID_OPTION')) return error.message
    throw error
  }
  return 'accepted'
}

describe('edge options: unknown keys', () => {
  it('refuses an unknown top-level key, naming it and the close match', () => {
    const message = refusal({ origin: 'http://127.0.0.1:1', orign: 'http://127.0.0.1:2' })
    expect(message).toContain('orign')
    expect(message).toContain('did you mean "origin"')
  })

  it.each([
    [{ storage: { type: 'memory', maxByte: 10 } }, 'storage.maxByte', 'maxBytes'],
    [{ storage: { type: 'redis', redis: 'redis://127.0.0.1:1', namepsace: 'x' } }, 'storage.namepsace', 'namespace'],
    [{ behaviors: [{ pathPattern: '*', defaultTTL: '1h' }] }, 'behaviors[0].defaultTTL', 'defaultTtl'],
    [{ purge: { maxBodyByte: 10 } }, 'purge.maxBodyByte', 'maxBodyBytes'],
    [{ admin: { prot: 9000 } }, 'admin.prot', 'port'],
    [{ purgeTokn: 'purge-token-0123456789' }, 'purgeTokn', 'purgeToken'],
  ])('refuses %j', (extra, option, suggestion) => {
    const message = refusal({ origin: 'http://127.0.0.1:1', ...extra })
    expect(message).toContain(option)
    expect(message).toContain(`"${suggestion}"`)
  })

  it('validates the nested limits with messages that name them', () => {
    expect(refusal({ origin: 'http://127.0.0.1:1', purge: { maxBodyBytes: '64kb' } })).toBe('expected purge.maxBodyBytes to be a positive integer, got "64kb"')
    expect(refusal({ origin: 'http://127.0.0.1:1', maxWaitersPerFill: 0 })).toContain('maxWaitersPerFill')
    expect(refusal({ origin: 'http://127.0.0.1:1', originBodyTimeout: 'soon' })).toContain('originBodyTimeout')
    expect(refusal({ origin: 'http://127.0.0.1:1', hopSecret: 'short' })).toContain('hopSecret')
    expect(refusal({ origin: 'http://127.0.0.1:1', admin: { host: 7 } })).toContain('admin.host')
  })
})
