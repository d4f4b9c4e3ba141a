import type { DeadLetter, QueuedWrite } from '../ports/write-queue.js'
import { WRITE_QUEUE_FORMAT_VERSION } from '../ports/write-queue.js'

/**
 * The write-behind queue entry, format version 1: a Redis Stream entry with the fields
 * - `v` = `1` (the format version),
 * - `k` = the cache key (UTF-8),
 * - `s` = the sequence number (decimal integer: Redis time in µs or the last one + 1),
 * - `t` = enqueue time, epoch ms of the writer's clock (decimal),
 * - `z` = id of the serializer that wrote `d` (decimal, 1..250),
 * - `d` = the serialized value (bytes),
 * - `r` (optional) = the attempts it had in the dead letters, on a write put back from there;
 * a dead letter adds `a` = attempts, `e` = the last error's message, `x` = when it was buried (epoch
 * ms). The fields are written by the Lua scripts in scripts.ts; test/unit/write-queue-entry.test.ts
 * pins them. A reader buries an entry of another version rather than guess at it.
 */
export const QUEUE_FIELDS = ['v', 'k', 's', 't', 'z', 'd'] as const

/** Decodes one stream entry (fields as alternating name/value buffers). Never throws: unreadable entries come back `malformed`. */
export function decodeQueued(id: string, fields: readonly Buffer[]): QueuedWrite {
  // Field names are one byte: read them without building a map (this runs once per queued write).
  let version: string | undefined
  let key = ''
  let seq = Number.NaN
  let at = Number.NaN
  let serializer = Number.NaN
  let bytes: Buffer | undefined
  let buried: number | undefined
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as Buffer
    const value = fields[i + 1] as Buffer
    if (name.length !== 1) continue
    switch (name[0]) {
      case 0x76: version = value.toString(); break // v
      case 0x6b: key = value.toString(); break // k
      case 0x73: seq = Number(value.toString()); break // s
      case 0x74: at = Number(value.toString()); break // t
      case 0x7a: serializer = Number(value.toString()); break // z
      case 0x64: bytes = value; break // d
      case 0x72: buried = Number(value.toString()); break // r
    }
  }
  let malformed: string | undefined
  if (version !== String(WRITE_QUEUE_FORMAT_VERSION)) malformed = `unknown queue entry format version ${JSON.stringify(version ?? null)}`
  else if (key === '' || !Number.isSafeInteger(seq) || !Number.isFinite(at) || !Number.isInteger(serializer) || bytes === undefined) malformed = 'missing or unreadable fields'
  return { id, key, seq: Number.isFinite(seq) ? seq : 0, at: Number.isFinite(at) ? at : 0, serializer, bytes: bytes ?? Buffer.alloc(0), malformed, buried }
}

/** Decodes one dead letter. */
export function decodeDead(id: string, fields: readonly Buffer[]): DeadLetter {
  const write = decodeQueued(id, fields)
  const map = toMap(fields)
  return {
    id,
    key: write.key,
    seq: write.seq,
    at: write.at,
    serializer: write.serializer,
    bytes: write.bytes,
    attempts: Number(map.get('a')?.toString() ?? 0),
    error: map.get('e')?.toString() ?? write.malformed ?? '',
    deadAt: Number(map.get('x')?.toString() ?? 0),
  }
}

function toMap(fields: readonly Buffer[]): Map<string, Buffer> {
  const map = new Map<string, Buffer>()
  for (let i = 0; i + 1 < fields.length; i += 2) map.set((fields[i] as Buffer).toString(), fields[i + 1] as Buffer)
  return map
}
