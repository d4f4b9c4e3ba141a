import { describe, expect, it } from 'vitest'
import { isTierCacheError } from '../../src/core/errors.js'
import {
  EDGE_RECORD_MAGIC, EDGE_RECORD_VERSION, StoredResponse, VaryMarker, decodeRecord, edgeRecordSerializer, encodeRecord,
} from '../../src/edge/stored-response.js'

const response = new StoredResponse({
  status: 200,
  headers: [['content-type', 'text/plain'], ['etag', '"v1"'], ['x-latin', 'caf\u00e9'], ['surrogate-key', 'item:1']],
  body: Buffer.from([0, 1, 2, 255]),
  requestTime: 1000,
  responseTime: 1500,
  initialAge: 2000,
  lifetime: 60_000,
  staleWhileRevalidate: 5000,
  staleIfError: 7000,
  retention: 7000,
  flags: 4,
  tags: ['item:1', 'list'],
  url: '/items/1?x=1',
  vary: ['accept-language'],
  invalidatedAt: Number.NaN,
})

describe('edge record format v1', () => {
  it('pins the layout of a response record byte by byte (header part)', () => {
    const buf = encodeRecord(response)
    expect(buf[0]).toBe(EDGE_RECORD_MAGIC)
    expect(buf[0]).toBe(0xed)
    expect(buf[1]).toBe(EDGE_RECORD_VERSION)
    expect(buf[1]).toBe(1)
    expect(buf[2]).toBe(1) // kind: response
    expect(buf[3]).toBe(4) // flags
    expect(buf.readUInt16LE(4)).toBe(200)
    expect([6, 14, 22, 30, 38, 46, 54].map((o) => buf.readDoubleLE(o))).toEqual([1000, 1500, 2000, 60_000, 5000, 7000, 7000])
    expect(buf.readDoubleLE(62)).toBeNaN()
    const urlLength = buf.readUInt16LE(70)
    expect(buf.subarray(72, 72 + urlLength).toString()).toBe('/items/1?x=1')
    // The body is the raw bytes at the end, after its u32 length.
    expect(buf.readUInt32LE(buf.length - 8)).toBe(4)
    expect([...buf.subarray(buf.length - 4)]).toEqual([0, 1, 2, 255])
  })

  it('round-trips responses and vary markers', () => {
    const back = decodeRecord(encodeRecord(response))
    expect(back).toBeInstanceOf(StoredResponse)
    if (back.kind !== 'response') throw new Error('kind')
    expect(back.headers).toEqual(response.headers)
    expect([...back.body]).toEqual([...response.body])
    expect(back.tags).toEqual(response.tags)
    expect(back.vary).toEqual(['accept-language'])
    expect(back.freshUntil).toBe(response.freshUntil)
    expect(back.staleUntil).toBe(response.staleUntil)
    expect(back.etag).toBe('"v1"')
    const noVary = decodeRecord(encodeRecord(response.with({ vary: undefined, invalidatedAt: 1600 })))
    expect(noVary.kind === 'response' && noVary.vary === undefined && noVary.invalidatedAt === 1600).toBe(true)
    const marker = decodeRecord(encodeRecord(new VaryMarker(['a', 'b'], '/x', 99)))
    expect(marker).toEqual(new VaryMarker(['a', 'b'], '/x', 99))
  })

  it('refuses other magic, newer versions and truncated records with typed errors', () => {
    const buf = encodeRecord(response)
    const newer = Buffer.from(buf)
    newer[1] = 2
    expect(() => decodeRecord(newer)).toThrow(expect.objectContaining({ code: 'E_FORMAT_VERSION' }))
    const foreign = Buffer.from(buf)
    foreign[0] = 0
    expect(() => decodeRecord(foreign)).toThrow(expect.objectContaining({ code: 'E_ENTRY_CORRUPT' }))
    try {
      decodeRecord(buf.subarray(0, buf.length - 2))
      expect.unreachable()
    } catch (error) {
      expect(isTierCacheError(error, 'E_ENTRY_CORRUPT')).toBe(true)
    }
  })

  it('serializes through the store envelope as bytes with a custom id', () => {
    expect(edgeRecordSerializer.id).toBeGreaterThanOrEqual(3)
    expect(edgeRecordSerializer.id).toBeLessThanOrEqual(250)
    const { bytes, exact } = edgeRecordSerializer.serialize(response)
    expect(exact).toBe(true)
    expect(bytes.includes(Buffer.from([0, 1, 2, 255]))).toBe(true)
    expect(() => edgeRecordSerializer.serialize({ not: 'a record' })).toThrow(TypeError)
  })
})

describe('stored response', () => {
  it('computes Age from the corrected initial age and resident time, and memoises hit headers per age', () => {
    expect(response.ageSeconds(1500)).toBe(2)
    expect(response.ageSeconds(3499)).toBe(3)
    const a = response.hitHeaders(1500)
    expect(response.hitHeaders(1999)).toBe(a)
    expect(response.hitHeaders(2500)).not.toBe(a)
    expect(a).toEqual(['content-type', 'text/plain', 'etag', '"v1"', 'x-latin', 'caf\u00e9', 'content-length', '4', 'age', '2', 'x-cache', 'HIT'])
  })

  it('ends freshness at a soft purge', () => {
    expect(response.freshUntil).toBe(1500 + 60_000 - 2000)
    expect(response.with({ invalidatedAt: 1700 }).freshUntil).toBe(1700)
    expect(response.with({ invalidatedAt: 1700 }).staleUntil).toBe(response.staleUntil)
  })
})
