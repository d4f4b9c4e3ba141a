import { describe, expect, it } from 'vitest'
import type { CacheEntry } from '../../src/ports/entry.js'
import { jsonSerializer, v8Serializer } from '../../src/core/serializer.js'
import { decodeEntry, encodeEntry } from '../../src/redis/envelope.js'

const entry: CacheEntry = {
  value: { a: 1 },
  bytes: Buffer.from('{"a":1}'),
  size: 7,
  createdAt: 1_700_000_000_000,
  freshUntil: 1_700_000_060_000,
  staleUntil: 1_700_003_600_000,
  tags: ['t1', 'é'],
  tagVersions: [5, 9],
  version: 42,
  loadMs: 12,
}

describe('Redis entry envelope v1 (pinned byte by byte)', () => {
  it('lays out the documented header, tags and payload', () => {
    const buf = encodeEntry(entry, jsonSerializer)
    const expected = Buffer.alloc(46)
    expected[0] = 0xc7
    expected[1] = 1
    expected[2] = 1
    expected[3] = 1
    expected.writeDoubleLE(entry.createdAt, 4)
    expected.writeDoubleLE(entry.freshUntil, 12)
    expected.writeDoubleLE(entry.staleUntil, 20)
    expected.writeDoubleLE(12, 28)
    expected.writeDoubleLE(42, 36)
    expected.writeUInt16LE(2, 44)
    const tag = (s: string, v: number): Buffer => {
      const b = Buffer.from(s)
      const out = Buffer.alloc(2 + b.length + 8)
      out.writeUInt16LE(b.length, 0)
      b.copy(out, 2)
      out.writeDoubleLE(v, 2 + b.length)
      return out
    }
    expect(buf.equals(Buffer.concat([expected, tag('t1', 5), tag('é', 9), Buffer.from('{"a":1}')]))).toBe(true)
  })

  it('round-trips', () => {
    const back = decodeEntry(encodeEntry(entry, jsonSerializer), jsonSerializer)
    expect(back).toMatchObject({ ...entry, bytes: undefined })
    const plain = decodeEntry(encodeEntry({ ...entry, tags: [], tagVersions: undefined, version: undefined }, jsonSerializer), jsonSerializer)
    expect(plain.tags).toEqual([])
    expect(plain.version).toBeUndefined()
    expect(plain.tagVersions).toBeUndefined()
  })

  it('refuses other magic, newer versions, another serializer and truncation with typed errors', () => {
    const good = encodeEntry(entry, jsonSerializer)
    expect(() => decodeEntry(Buffer.from('hello world, not an entry at all, long enough to pass the size'), jsonSerializer)).toThrow(expect.objectContaining({ code: 'E_ENTRY_CORRUPT' }))
    const newer = Buffer.from(good)
    newer[1] = 2
    expect(() => decodeEntry(newer, jsonSerializer)).toThrow(expect.objectContaining({ code: 'E_FORMAT_VERSION' }))
    expect(() => decodeEntry(good, v8Serializer)).toThrow(expect.objectContaining({ code: 'E_FORMAT_VERSION' }))
    expect(() => decodeEntry(good.subarray(0, 50), jsonSerializer)).toThrow(expect.objectContaining({ code: 'E_ENTRY_CORRUPT' }))
    const badPayload = Buffer.concat([good.subarray(0, good.length - 7), Buffer.from('{oops')])
    expect(() => decodeEntry(badPayload, jsonSerializer)).toThrow(expect.objectContaining({ code: 'E_ENTRY_CORRUPT' }))
  })
})
