import { FormatError } from '../core/errors.js'
import type { Serialized, Serializer } from '../core/serializer.js'
import type { HeaderList, HeaderPair } from './header-list.js'
import { getAll, headerBytes } from './header-list.js'
import { FLAG_NO_CACHE } from './freshness.js'

/**
 * Response fields for surrogates (Edge Architecture; Fastly's Surrogate-Key, Cloudflare's
 * Cache-Tag): consumed by the edge, passed on to another tiercache hop, hidden from clients.
 */
export const SURROGATE_ONLY: ReadonlySet<string> = new Set(['surrogate-key', 'cache-tag', 'surrogate-control'])

/** What a stored response carries besides status, headers and body. */
export interface StoredResponseInit {
  readonly status: number
  /** Stored fields: no hop-by-hop fields, no `Age`, no `Content-Length` (recomputed from the body). */
  readonly headers: HeaderList
  readonly body: Buffer
  readonly requestTime: number
  readonly responseTime: number
  /** Corrected initial age, ms. */
  readonly initialAge: number
  /** Freshness lifetime, ms (0 when every use needs validation). */
  readonly lifetime: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  /** How long past freshness it is kept (for validation, stale-if-error, stale-while-revalidate). */
  readonly retention: number
  readonly flags: number
  readonly tags: readonly string[]
  /** Path and kept query: what purge by URL and prefix match. */
  readonly url: string
  /** Selecting header names when the response had `Vary`. */
  readonly vary: readonly string[] | undefined
  /** Soft purge time (epoch ms), NaN when never purged. */
  readonly invalidatedAt: number
}

/**
 * A response held by the edge: immutable; a 304 or a soft purge makes a new one. The header array
 * written on a hit is memoised per Age value, so a hit allocates nothing in the common case.
 */
export class StoredResponse implements StoredResponseInit {
  readonly kind = 'response'
  readonly status: number
  readonly headers: HeaderList
  readonly body: Buffer
  readonly requestTime: number
  readonly responseTime: number
  readonly initialAge: number
  readonly lifetime: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  readonly retention: number
  readonly flags: number
  readonly tags: readonly string[]
  readonly url: string
  readonly vary: readonly string[] | undefined
  readonly invalidatedAt: number
  /** Freshness ends here (edge clock, ms): responseTime + lifetime − initial age, or the soft purge. */
  readonly freshUntil: number
  /** The entry is dropped here. */
  readonly staleUntil: number
  readonly etag: string | undefined
  readonly lastModified: string | undefined
  /** Bytes weighed by the store. */
  readonly size: number
  #flat: string[] | undefined
  #flatAge = -1
  #encoded: Map<string, Buffer> | undefined

  constructor(init: StoredResponseInit) {
    this.status = init.status
    this.headers = init.headers
    this.body = init.body
    this.requestTime = init.requestTime
    this.responseTime = init.responseTime
    this.initialAge = init.initialAge
    this.lifetime = init.lifetime
    this.staleWhileRevalidate = init.staleWhileRevalidate
    this.staleIfError = init.staleIfError
    this.retention = init.retention
    this.flags = init.flags
    this.tags = init.tags
    this.url = init.url
    this.vary = init.vary
    this.invalidatedAt = init.invalidatedAt
    const natural = (init.flags & FLAG_NO_CACHE) !== 0 ? init.responseTime - init.initialAge : init.responseTime + init.lifetime - init.initialAge
    this.freshUntil = Number.isNaN(init.invalidatedAt) ? natural : Math.min(natural, init.invalidatedAt)
    this.staleUntil = natural + init.retention
    this.etag = getAll(init.headers, 'etag')[0]
    this.lastModified = getAll(init.headers, 'last-modified')[0]
    this.size = init.body.length + headerBytes(init.headers) + 256
  }

  /** Current age in whole seconds (RFC 9111 §4.2.3 `current_age`). */
  ageSeconds(now: number): number {
    const ms = this.initialAge + (now - this.responseTime)
    return ms <= 0 ? 0 : Math.floor(ms / 1000)
  }

  /**
   * The header array for `writeHead` (flat name/value list) with `Age` and `X-Cache: HIT`,
   * memoised per age. Callers must not modify it.
   */
  hitHeaders(now: number): string[] {
    const age = this.ageSeconds(now)
    if (age === this.#flatAge && this.#flat !== undefined) return this.#flat
    const flat = this.flatHeaders(age, 'HIT', this.body.length, false)
    this.#flat = flat
    this.#flatAge = age
    return flat
  }

  /**
   * A fresh flat header array with `Content-Length`, `Age` and `X-Cache`; callers may extend it.
   * Fields meant for downstream surrogates only (tags, Surrogate-Control) are included only for
   * another tiercache hop.
   */
  flatHeaders(age: number, xCache: string, contentLength: number, forHop: boolean, skip?: ReadonlySet<string>): string[] {
    const flat: string[] = []
    for (const [name, value] of this.headers) {
      if (!forHop && SURROGATE_ONLY.has(name)) continue
      if (skip?.has(name) === true) continue
      flat.push(name, value)
    }
    if (contentLength >= 0) flat.push('content-length', String(contentLength))
    flat.push('age', String(age), 'x-cache', xCache)
    return flat
  }

  /** Memoised alternative encodings of the body (compression). */
  encoded(encoding: string, make: () => Buffer): Buffer {
    this.#encoded ??= new Map()
    let out = this.#encoded.get(encoding)
    if (out === undefined) {
      out = make()
      this.#encoded.set(encoding, out)
    }
    return out
  }

  /** A copy with some fields changed (304 update, soft purge). */
  with(change: Partial<StoredResponseInit>): StoredResponse {
    return new StoredResponse({ ...this.#init(), ...change })
  }

  #init(): StoredResponseInit {
    return {
      status: this.status, headers: this.headers, body: this.body, requestTime: this.requestTime, responseTime: this.responseTime,
      initialAge: this.initialAge, lifetime: this.lifetime, staleWhileRevalidate: this.staleWhileRevalidate,
      staleIfError: this.staleIfError, retention: this.retention, flags: this.flags, tags: this.tags, url: this.url,
      vary: this.vary, invalidatedAt: this.invalidatedAt,
    }
  }
}

/**
 * Stored under the primary key when the origin's response had `Vary`: the names that select a
 * variant. Variants live under `primary key + VARIANT_SEPARATOR + varyKey(...)`.
 */
export class VaryMarker {
  readonly kind = 'vary'
  readonly names: readonly string[]
  readonly url: string
  readonly staleUntil: number
  readonly size: number

  constructor(names: readonly string[], url: string, staleUntil: number) {
    this.names = names
    this.url = url
    this.staleUntil = staleUntil
    this.size = 128 + url.length + names.join(',').length
  }
}

/** What the edge stores under a key. */
export type EdgeRecord = StoredResponse | VaryMarker

/** Joins a primary key and a secondary (Vary) key. */
export const VARIANT_SEPARATOR = '\u0002'

/**
 * Binary format of an edge record in shared storage, version 1 (little-endian). The record is the
 * payload of the store's entry envelope (which carries times and tags for the store itself).
 *
 * | offset | type | field                                                        |
 * | ------ | ---- | ------------------------------------------------------------ |
 * | 0      | u8   | magic `0xED`                                                 |
 * | 1      | u8   | format version (`1`)                                         |
 * | 2      | u8   | kind: 1 response, 2 vary marker                              |
 * | 3      | u8   | flags (response) / 0                                         |
 * | response:                                                                  |
 * | 4      | u16  | status                                                       |
 * | 6      | f64  | requestTime                                                  |
 * | 14     | f64  | responseTime                                                 |
 * | 22     | f64  | initialAge (ms)                                              |
 * | 30     | f64  | lifetime (ms)                                                |
 * | 38     | f64  | staleWhileRevalidate (ms)                                    |
 * | 46     | f64  | staleIfError (ms)                                            |
 * | 54     | f64  | retention (ms)                                               |
 * | 62     | f64  | invalidatedAt (NaN when none)                                |
 * | 70     | ...  | str16 url; u16 n + n × str16 tags; u16 n + n × str16 vary    |
 * |        |      | (n = 0xFFFF: no Vary); u16 n + n × (str16 name, str32 value) |
 * |        |      | headers; u32 length + body bytes                             |
 * | marker:                                                                    |
 * | 4      | f64  | staleUntil                                                   |
 * | 12     | ...  | str16 url; u16 n + n × str16 names                           |
 *
 * `str16` is a u16 byte length then UTF-8 (latin1 for header values, which may carry obs-text);
 * `str32` the same with a u32 length. test/unit/edge-stored-response.test.ts pins it.
 */
export const EDGE_RECORD_MAGIC = 0xed
/** Format version written into every record. */
export const EDGE_RECORD_VERSION = 1
const KIND_RESPONSE = 1
const KIND_VARY = 2
const NO_VARY = 0xffff

class Writer {
  readonly #chunks: Buffer[] = []
  #length = 0
  push(buf: Buffer): void {
    this.#chunks.push(buf)
    this.#length += buf.length
  }
  u8(n: number): void { const b = Buffer.allocUnsafe(1); b[0] = n; this.push(b) }
  u16(n: number): void { const b = Buffer.allocUnsafe(2); b.writeUInt16LE(n); this.push(b) }
  u32(n: number): void { const b = Buffer.allocUnsafe(4); b.writeUInt32LE(n); this.push(b) }
  f64(n: number): void { const b = Buffer.allocUnsafe(8); b.writeDoubleLE(n); this.push(b) }
  str16(s: string, encoding: BufferEncoding = 'utf8'): void {
    const b = Buffer.from(s, encoding)
    if (b.length > 0xffff) throw new RangeError('string longer than 65535 bytes')
    this.u16(b.length)
    this.push(b)
  }
  str32(s: string, encoding: BufferEncoding = 'latin1'): void {
    const b = Buffer.from(s, encoding)
    this.u32(b.length)
    this.push(b)
  }
  done(): Buffer {
    return Buffer.concat(this.#chunks, this.#length)
  }
}

class Reader {
  readonly #buf: Buffer
  #at: number
  constructor(buf: Buffer, at: number) {
    this.#buf = buf
    this.#at = at
  }
  #need(n: number): void {
    if (this.#at + n > this.#buf.length) throw new FormatError('E_ENTRY_CORRUPT', 'edge record truncated', { length: this.#buf.length })
  }
  u16(): number { this.#need(2); const v = this.#buf.readUInt16LE(this.#at); this.#at += 2; return v }
  u32(): number { this.#need(4); const v = this.#buf.readUInt32LE(this.#at); this.#at += 4; return v }
  f64(): number { this.#need(8); const v = this.#buf.readDoubleLE(this.#at); this.#at += 8; return v }
  bytes(n: number): Buffer { this.#need(n); const v = this.#buf.subarray(this.#at, this.#at + n); this.#at += n; return v }
  str16(encoding: BufferEncoding = 'utf8'): string { return this.bytes(this.u16()).toString(encoding) }
  str32(encoding: BufferEncoding = 'latin1'): string { return this.bytes(this.u32()).toString(encoding) }
  end(): void {
    if (this.#at !== this.#buf.length) throw new FormatError('E_ENTRY_CORRUPT', 'edge record has trailing bytes', { length: this.#buf.length })
  }
}

/** Encodes a record (see the table above). */
export function encodeRecord(record: EdgeRecord): Buffer {
  const w = new Writer()
  w.u8(EDGE_RECORD_MAGIC)
  w.u8(EDGE_RECORD_VERSION)
  if (record.kind === 'vary') {
    w.u8(KIND_VARY)
    w.u8(0)
    w.f64(record.staleUntil)
    w.str16(record.url)
    w.u16(record.names.length)
    for (const name of record.names) w.str16(name)
    return w.done()
  }
  w.u8(KIND_RESPONSE)
  w.u8(record.flags)
  w.u16(record.status)
  for (const n of [record.requestTime, record.responseTime, record.initialAge, record.lifetime, record.staleWhileRevalidate,
    record.staleIfError, record.retention, record.invalidatedAt]) w.f64(n)
  w.str16(record.url)
  w.u16(record.tags.length)
  for (const tag of record.tags) w.str16(tag)
  if (record.vary === undefined) {
    w.u16(NO_VARY)
  } else {
    w.u16(record.vary.length)
    for (const name of record.vary) w.str16(name)
  }
  w.u16(record.headers.length)
  for (const [name, value] of record.headers) {
    w.str16(name, 'latin1')
    w.str32(value)
  }
  w.u32(record.body.length)
  w.push(record.body)
  return w.done()
}

/** Decodes a record; throws {@link FormatError} (`E_FORMAT_VERSION` or `E_ENTRY_CORRUPT`). */
export function decodeRecord(buf: Buffer): EdgeRecord {
  if (buf.length < 4 || buf[0] !== EDGE_RECORD_MAGIC) throw new FormatError('E_ENTRY_CORRUPT', 'not an edge record (bad magic)', { length: buf.length })
  if (buf[1] !== EDGE_RECORD_VERSION) {
    throw new FormatError('E_FORMAT_VERSION', `edge record version ${String(buf[1])} is not supported (this build reads ${EDGE_RECORD_VERSION})`,
      { formatVersion: buf[1] })
  }
  const kind = buf[2]
  const flags = buf[3] as number
  const r = new Reader(buf, 4)
  if (kind === KIND_VARY) {
    const staleUntil = r.f64()
    const url = r.str16()
    const names: string[] = []
    for (let n = r.u16(); n > 0; n--) names.push(r.str16())
    r.end()
    return new VaryMarker(names, url, staleUntil)
  }
  if (kind !== KIND_RESPONSE) throw new FormatError('E_ENTRY_CORRUPT', `unknown edge record kind ${String(kind)}`, {})
  const status = r.u16()
  const [requestTime, responseTime, initialAge, lifetime, staleWhileRevalidate, staleIfError, retention, invalidatedAt] =
    [r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64()] as [number, number, number, number, number, number, number, number]
  const url = r.str16()
  const tags: string[] = []
  for (let n = r.u16(); n > 0; n--) tags.push(r.str16())
  let vary: string[] | undefined
  const varyCount = r.u16()
  if (varyCount !== NO_VARY) {
    vary = []
    for (let n = varyCount; n > 0; n--) vary.push(r.str16())
  }
  const headers: HeaderPair[] = []
  for (let n = r.u16(); n > 0; n--) headers.push([r.str16('latin1'), r.str32()])
  // Copy: the body must not keep the whole Redis reply alive.
  const body = Buffer.from(r.bytes(r.u32()))
  r.end()
  return new StoredResponse({
    status, headers, body, requestTime, responseTime, initialAge, lifetime, staleWhileRevalidate, staleIfError, retention,
    flags, tags, url, vary, invalidatedAt,
  })
}

/** The serializer id of edge records in shared storage (custom ids are 3..250). */
export const EDGE_SERIALIZER_ID = 237

/** A {@link Serializer} for the store's entry envelope: edge records as bytes, never base64 or JSON. */
export const edgeRecordSerializer: Serializer = {
  id: EDGE_SERIALIZER_ID,
  name: 'edge-record',
  serialize(value: unknown): Serialized {
    if (!(value instanceof StoredResponse) && !(value instanceof VaryMarker)) throw new TypeError('edge storage holds edge records only')
    return { bytes: encodeRecord(value), exact: true }
  },
  deserialize(bytes: Buffer): unknown {
    return decodeRecord(bytes)
  },
}
