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
  const map = toMap(fields)
  const version = map.get('v')?.toString()
  const key = map.get('k')?.toString() ?? ''
  const seq = Number(map.get('s')?.toString())
  const at = Number(map.get('t')?.toString())
  const serializer = Number(map.get('z')?.toString())
  const bytes = map.get('d') ?? Buffer.alloc(0)
  let malformed: string | undefined
  if (version !== String(WRITE_QUEUE_FORMAT_VERSION)) malformed = `unknown queue entry format version ${JSON.stringify(version ?? null)}`
  else if (key === '' || !Number.isSafeInteger(seq) || !Number.isFinite(at) || !Number.isInteger(serializer) || !map.has('d')) malformed = 'missing or unreadable fields'
  const buried = map.has('r') ? Number(map.get('r')?.toString()) : undefined
  return { id, key, seq: Number.isFinite(seq) ? seq : 0, at: Number.isFinite(at) ? at : 0, serializer, bytes, malformed, buried }
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
