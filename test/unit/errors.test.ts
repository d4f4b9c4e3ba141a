import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, InvalidOptionError, TierCacheError, isTierCacheError } from '../../src/core/errors.js'

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const documented = new Map([...doc.matchAll(/^\| `(E_[A-Z0-9_]+)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]))

  it('documents every code, with the same meaning, and nothing else', () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort())
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(documented.get(code), code).toBe(meaning)
  })

  it('gives errors a code, a message naming the option, and a class callers can test', () => {
    const error = new InvalidOptionError('l1.maxBytes', 'a positive integer', '64mb')
    expect(error).toBeInstanceOf(TierCacheError)
    expect(error.code).toBe('E_INVALID_OPTION')
    expect(error.message).toBe('expected l1.maxBytes to be a positive integer, got "64mb"')
    expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    expect(isTierCacheError(error, 'E_INVALID_KEY')).toBe(false)
    expect(isTierCacheError(new Error('x'))).toBe(false)
  })
})
