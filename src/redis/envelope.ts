import type { CacheEntry } from '../ports/entry.js'
import { FormatError } from '../core/errors.js'
import { EMPTY_TAGS } from '../core/key.js'
import type { Serializer } from '../core/serializer.js'

/**
 * Wire format of an entry stored in Redis, version 1. Little-endian, fixed header first so a reader
 * can reject a foreign or newer value before touching the payload:
 *
 * | offset | type | field                                                   |
 * | ------ | ---- | ------------------------------------------------------- |
 * | 0      | u8   | magic `0xC7`                                            |
 * | 1      | u8   | format version (`1`)                                    |
 * | 2      | u8   | serializer id (1 json, 2 v8, custom 3..250)             |
 * | 3      | u8   | flags: bit 0 = tag versions present                     |
 * | 4      | f64  | createdAt (epoch ms)                                    |
 * | 12     | f64  | freshUntil (epoch ms)                                   |
 * | 20     | f64  | staleUntil (epoch ms); the Redis TTL ends here too      |
 * | 28     | f64  | loadMs                                                  |
 * | 36     | f64  | source version, NaN when none                           |
 * | 44     | u16  | tag count n                                             |
 * | 46     | ...  | n times: u16 byte length, UTF-8 tag, [f64 tag version]  |
 * | ...    | ...  | payload: the serializer's bytes, to the end             |
 *
 * test/unit/envelope.test.ts pins this layout byte by byte.
 */
export const ENTRY_MAGIC = 0xc7
export const ENTRY_FORMAT_VERSION = 1
const HEADER_BYTES = 46
const FLAG_TAG_VERSIONS = 1

/** Encodes an entry. Uses `entry.bytes` when present (the cache serialized it already). */
export function encodeEntry(entry: CacheEntry, serializer: Serializer): Buffer {
  const payload = entry.bytes ?? serializer.serialize(entry.value).bytes
  const tags = entry.tags
  const withVersions = entry.tagVersions !== undefined && entry.tagVersions.length === tags.length && tags.length > 0
  let tagBytes = 0
  for (const tag of tags) tagBytes += 2 + Buffer.byteLength(tag, 'utf8') + (withVersions ? 8 : 0)
  const out = Buffer.allocUnsafe(HEADER_BYTES + tagBytes + payload.length)
  out[0] = ENTRY_MAGIC
  out[1] = ENTRY_FORMAT_VERSION
  out[2] = serializer.id
  out[3] = withVersions ? FLAG_TAG_VERSIONS : 0
  out.writeDoubleLE(entry.createdAt, 4)
  out.writeDoubleLE(entry.freshUntil, 12)
  out.writeDoubleLE(entry.staleUntil, 20)
  out.writeDoubleLE(entry.loadMs, 28)
  out.writeDoubleLE(entry.version ?? Number.NaN, 36)
  out.writeUInt16LE(tags.length, 44)
  let offset = HEADER_BYTES
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i] as string
    const length = out.write(tag, offset + 2, 'utf8')
    out.writeUInt16LE(length, offset)
    offset += 2 + length
    if (withVersions) {
      out.writeDoubleLE((entry.tagVersions)[i] as number, offset)
      offset += 8
    }
  }
  payload.copy(out, offset)
  return out
}

/**
 * Decodes an entry. Throws {@link FormatError}: `E_FORMAT_VERSION` for a newer format or another
 * serializer, `E_ENTRY_CORRUPT` for anything unreadable.
 */
export function decodeEntry(buf: Buffer, serializer: Serializer): CacheEntry {
  if (buf.length < HEADER_BYTES || buf[0] !== ENTRY_MAGIC) {
    throw new FormatError('E_ENTRY_CORRUPT', 'not a tiercache entry (bad magic or too short)', { length: buf.length })
  }
  if (buf[1] !== ENTRY_FORMAT_VERSION) {
    throw new FormatError('E_FORMAT_VERSION', `entry format version ${String(buf[1])} is not supported (this build reads ${ENTRY_FORMAT_VERSION})`,
      { formatVersion: buf[1] })
  }
  if (buf[2] !== serializer.id) {
    throw new FormatError('E_FORMAT_VERSION', `entry was written by serializer ${String(buf[2])}, this cache uses ${serializer.name} (${serializer.id})`,
      { serializerId: buf[2] })
  }
  const withVersions = ((buf[3] as number) & FLAG_TAG_VERSIONS) !== 0
  const tagCount = buf.readUInt16LE(44)
  let offset = HEADER_BYTES
  let tags: readonly string[] = EMPTY_TAGS
  let tagVersions: number[] | undefined
  if (tagCount > 0) {
    const names = new Array<string>(tagCount)
    tags = names
    if (withVersions) tagVersions = new Array<number>(tagCount)
    for (let i = 0; i < tagCount; i++) {
      if (offset + 2 > buf.length) throw new FormatError('E_ENTRY_CORRUPT', 'entry truncated inside its tag list')
      const length = buf.readUInt16LE(offset)
      const end = offset + 2 + length
      if (end + (withVersions ? 8 : 0) > buf.length) throw new FormatError('E_ENTRY_CORRUPT', 'entry truncated inside its tag list')
      names[i] = buf.toString('utf8', offset + 2, end)
      offset = end
      if (tagVersions !== undefined) {
        tagVersions[i] = buf.readDoubleLE(offset)
        offset += 8
      }
    }
  }
  let value: unknown
  try {
    // Without slicing when the serializer can: this runs once per L2 hit.
    value = serializer.deserializeAt !== undefined ? serializer.deserializeAt(buf, offset) : serializer.deserialize(buf.subarray(offset))
  } catch (error) {
    throw new FormatError('E_ENTRY_CORRUPT', `entry payload could not be deserialized by ${serializer.name}`, {}, error)
  }
  const version = buf.readDoubleLE(36)
  return {
    value,
    // The payload bytes are not kept: only L1 with `clone: true` needs them, and it re-serializes.
    bytes: undefined,
    size: buf.length - offset,
    createdAt: buf.readDoubleLE(4),
    freshUntil: buf.readDoubleLE(12),
    staleUntil: buf.readDoubleLE(20),
    loadMs: buf.readDoubleLE(28),
    version: Number.isNaN(version) ? undefined : version,
    tags,
    tagVersions,
  }
}
