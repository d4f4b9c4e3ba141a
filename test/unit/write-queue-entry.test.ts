import { describe, expect, it } from 'vitest'
import { WRITE_QUEUE_FORMAT_VERSION } from '../../src/ports/write-queue.js'
import { QUEUE_FIELDS, decodeDead, decodeQueued } from '../../src/redis/write-queue-entry.js'

const b = (s: string): Buffer => Buffer.from(s)

describe('write-behind queue entry, format v1', () => {
  it('pins the fields', () => {
    expect(WRITE_QUEUE_FORMAT_VERSION).toBe(1)
    expect(QUEUE_FIELDS).toEqual(['v', 'k', 's', 't', 'z', 'd'])
  })

  it('decodes an entry, keeping the value as bytes', () => {
    const fields = [b('v'), b('1'), b('k'), b('order:1'), b('s'), b('1700000000000001'), b('t'), b('1700000000000'), b('z'), b('2'), b('d'), Buffer.from([0, 255, 7])]
    expect(decodeQueued('1-0', fields)).toEqual({
      id: '1-0', key: 'order:1', seq: 1700000000000001, at: 1700000000000, serializer: 2, bytes: Buffer.from([0, 255, 7]), malformed: undefined, buried: undefined,
    })
  })

  it('marks what it cannot read instead of guessing', () => {
    expect(decodeQueued('1-0', [b('v'), b('2'), b('k'), b('x')]).malformed).toMatch(/unknown queue entry format version "2"/)
    expect(decodeQueued('1-0', [b('v'), b('1'), b('k'), b('x'), b('s'), b('nope')]).malformed).toMatch(/missing or unreadable/)
  })

  it('decodes a dead letter and a write put back from the dead letters', () => {
    const base = [b('v'), b('1'), b('k'), b('k1'), b('s'), b('5'), b('t'), b('6'), b('z'), b('1'), b('d'), b('"x"')]
    expect(decodeDead('9-0', [...base, b('a'), b('3'), b('e'), b('check violation'), b('x'), b('7')])).toMatchObject({
      id: '9-0', key: 'k1', seq: 5, at: 6, attempts: 3, error: 'check violation', deadAt: 7,
    })
    expect(decodeQueued('2-0', [...base, b('r'), b('3')]).buried).toBe(3)
  })
})
