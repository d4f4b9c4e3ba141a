import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/**
 * A trace file: gzip of little-endian int32 key ids, dense 0..distinct-1 (`NAME.i32.gz`), or of
 * (key id, size in bytes) pairs (`NAME.kw.gz`, a sized trace).
 */
export interface TraceFile {
  readonly name: string
  readonly trace: Int32Array
  readonly distinct: number
  /**
   * Sized traces only: each key's size in bytes, indexed by (dense) key id. A key keeps the size of
   * its first request: a few keys of the sized CDN trace change size between requests, and every
   * policy must see the same object sizes, so one size per key keeps the comparison fair.
   */
  readonly objectSizes?: Uint32Array
}

/**
 * Reads a `.i32.gz` or `.kw.gz` trace. Ids need not be dense: `distinct` counts them either way.
 * @throws when the length does not fit the format, an id is negative or a size is not positive
 */
export function readTrace(path: string): TraceFile {
  const bytes = gunzipSync(readFileSync(path))
  const sized = path.endsWith('.kw.gz')
  const record = sized ? 8 : 4
  if (bytes.length % record !== 0) throw new Error(`${path}: length ${bytes.length} is not a multiple of ${record}`)
  const trace = new Int32Array(bytes.length / record)
  for (let i = 0; i < trace.length; i++) trace[i] = bytes.readInt32LE(i * record)
  if (sized) return readSized(path, bytes, trace)
  let max = -1
  for (const key of trace) {
    if (key < 0) throw new Error(`${path}: negative key id ${key}`)
    if (key > max) max = key
  }
  const seen = new Uint8Array(max + 1)
  let distinct = 0
  for (const key of trace) {
    if (seen[key] === 0) {
      seen[key] = 1
      distinct++
    }
  }
  if (distinct !== max + 1) return { name: traceName(path), ...densifyIds(trace, max + 1), }
  return { name: traceName(path), trace, distinct }
}

function readSized(path: string, bytes: Buffer, raw: Int32Array): TraceFile {
  for (const key of raw) if (key < 0) throw new Error(`${path}: negative key id ${key}`)
  const ids = new Map<number, number>()
  const trace = new Int32Array(raw.length)
  const firstSizes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const key = raw[i] as number
    let id = ids.get(key)
    if (id === undefined) {
      const size = bytes.readInt32LE(i * 8 + 4)
      if (!(size > 0)) throw new Error(`${path}: request ${i} has size ${size}`)
      id = ids.size
      ids.set(key, id)
      firstSizes.push(size)
    }
    trace[i] = id
  }
  return { name: traceName(path), trace, distinct: ids.size, objectSizes: Uint32Array.from(firstSizes) }
}

function densifyIds(trace: Int32Array, range: number): { trace: Int32Array; distinct: number } {
  const ids = new Int32Array(range).fill(-1)
  let next = 0
  const out = new Int32Array(trace.length)
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i] as number
    if (ids[key] === -1) ids[key] = next++
    out[i] = ids[key] as number
  }
  return { trace: out, distinct: next }
}

/** `cache2k_web07.i32.gz` → `cache2k_web07`; `adaptsize_request.kw.gz` → `adaptsize_request`. */
export function traceName(path: string): string {
  return basename(path).replace(/\.(i32|kw)\.gz$/, '')
}

/** Every `.i32.gz` and `.kw.gz` in a directory, sorted by name. */
export function listTraces(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.i32.gz') || f.endsWith('.kw.gz')).sort().map((f) => join(dir, f))
}

/** `'1%'` → 0.01, `'0.5'` → 0.5; undefined when unreadable. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim())
  if (match === null) return undefined
  const value = Number(match[1])
  const size = match[2] === '%' ? value / 100 : value
  return size > 0 && size <= 1 ? size : undefined
}
