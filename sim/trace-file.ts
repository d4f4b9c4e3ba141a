import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { gunzipSync } from 'node:zlib'

/** A trace file: gzip of little-endian int32 key ids, dense 0..distinct-1 (traces/README.md). */
export interface TraceFile {
  readonly name: string
  readonly trace: Int32Array
  readonly distinct: number
}

/** Reads a `.i32.gz` trace. Ids need not be dense: `distinct` counts them either way. */
export function readTrace(path: string): TraceFile {
  const bytes = gunzipSync(readFileSync(path))
  if (bytes.length % 4 !== 0) throw new Error(`${path}: length ${bytes.length} is not a multiple of 4`)
  const trace = new Int32Array(bytes.length / 4)
  for (let i = 0; i < trace.length; i++) trace[i] = bytes.readInt32LE(i * 4)
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

/** `cache2k_web07.i32.gz` → `cache2k_web07`. */
export function traceName(path: string): string {
  return basename(path).replace(/\.i32\.gz$/, '')
}

/** Every `.i32.gz` in a directory, sorted by name. */
export function listTraces(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.i32.gz')).sort().map((f) => join(dir, f))
}

/** One row of the reference table in the traces README (hit ratios in percent). */
export interface ReferenceRow {
  readonly trace: string
  /** Cache size as a fraction of distinct keys. */
  readonly size: number
  /** Policy name → hit ratio in percent, as printed in the README. */
  readonly policies: Readonly<Record<string, number>>
}

/**
 * Parses the reference table of the traces README: a markdown table whose header starts with
 * `| trace | cache |` and whose other columns are policies. Absent file or table: no rows.
 */
export function readReferences(dir: string): ReferenceRow[] {
  let text: string
  try {
    text = readFileSync(join(dir, 'README.md'), 'utf8')
  } catch {
    return []
  }
  const lines = text.split('\n')
  const start = lines.findIndex((l) => /^\|\s*trace\s*\|\s*cache\s*\|/.test(l))
  if (start < 0) return []
  const header = cells(lines[start] as string)
  const rows: ReferenceRow[] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    const row = cells(line)
    const size = parseSize(row[1] ?? '')
    if (size === undefined) continue
    const policies: Record<string, number> = {}
    for (let i = 2; i < header.length; i++) {
      const value = Number(row[i])
      if (Number.isFinite(value)) policies[header[i] as string] = value
    }
    rows.push({ trace: row[0] as string, size, policies })
  }
  return rows
}

function cells(line: string): string[] {
  return line.split('|').slice(1, -1).map((c) => c.trim())
}

/** `'1%'` → 0.01, `'0.5'` → 0.5; undefined when unreadable. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim())
  if (match === null) return undefined
  const value = Number(match[1])
  const size = match[2] === '%' ? value / 100 : value
  return size > 0 && size <= 1 ? size : undefined
}
