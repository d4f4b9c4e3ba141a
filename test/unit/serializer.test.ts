import { describe, expect, it } from 'vitest'
import { UnserializableValueError, jsonSerializer } from '../../src/core/serializer.js'

describe('json serializer', () => {
  it('marks plain JSON data exact and JSON-changed data inexact', () => {
    expect(jsonSerializer.serialize({ a: [1, 'x', null, { b: true }] }).exact).toBe(true)
    expect(jsonSerializer.serialize({ d: new Date(0) }).exact).toBe(false)
    expect(jsonSerializer.serialize({ u: undefined }).exact).toBe(false)
    expect(jsonSerializer.serialize([Number.NaN]).exact).toBe(false)
    class Point { constructor(readonly x: number) {} }
    expect(jsonSerializer.serialize({ p: new Point(1) }).exact).toBe(false)
    expect(jsonSerializer.serialize(Object.create(null) as object).exact).toBe(true)
  })

  it('names what it refuses and where', () => {
    expect(() => jsonSerializer.serialize({ inner: { fn: () => 1 } })).toThrow(new UnserializableValueError('a function at property "fn"'))
    expect(() => jsonSerializer.serialize({ m: new Map() })).toThrow(/a Map at property "m"/)
    expect(() => jsonSerializer.serialize(5n)).toThrow(/a BigInt/)
  })

  it('round-trips through bytes', () => {
    const { bytes } = jsonSerializer.serialize({ s: 'ünïcödé ☃', n: 1.5 })
    expect(jsonSerializer.deserialize(bytes)).toEqual({ s: 'ünïcödé ☃', n: 1.5 })
  })
})
