/**
 * Header fields as an ordered list of `[lowercase name, value]` pairs, one pair per field line.
 * Responses are read from `rawHeaders` (not Node's merged object) so that repeated lines stay
 * visible: RFC 9111 treats two `Age` or `Expires` lines differently from one.
 */
export type HeaderPair = readonly [name: string, value: string]
/** A header section, in order. */
export type HeaderList = readonly HeaderPair[]

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) plus the proxy authentication fields a cache must not store
 * or forward: they describe one connection, not the resource.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer',
  'proxy-authenticate', 'proxy-authorization', 'proxy-authentication-info',
])

/** Builds a list from Node's `rawHeaders` (name, value, name, value...). */
export function fromRawHeaders(raw: readonly string[]): HeaderPair[] {
  const out: HeaderPair[] = []
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string])
  return out
}

/** Names listed in `Connection` (they are hop-by-hop for this message, RFC 9110 §7.6.1). */
export function connectionListed(list: HeaderList): Set<string> {
  const out = new Set<string>()
  for (const [name, value] of list) {
    if (name !== 'connection') continue
    for (const token of value.split(',')) {
      const t = token.trim().toLowerCase()
      if (t !== '') out.add(t)
    }
  }
  return out
}

/** The list without hop-by-hop fields, fields named in `Connection`, and anything in `drop`. */
export function stripHopByHop(list: HeaderList, drop?: ReadonlySet<string>): HeaderPair[] {
  const listed = connectionListed(list)
  const out: HeaderPair[] = []
  for (const pair of list) {
    const name = pair[0]
    if (HOP_BY_HOP.has(name) || listed.has(name) || drop?.has(name) === true) continue
    out.push(pair)
  }
  return out
}

/** Every value of `name`, one per field line. */
export function getAll(list: HeaderList, name: string): string[] {
  const out: string[] = []
  for (const [n, v] of list) if (n === name) out.push(v)
  return out
}

/** The field's lines joined with `, ` (RFC 9110 §5.3), or undefined when absent. */
export function getJoined(list: HeaderList, name: string): string | undefined {
  let out: string | undefined
  for (const [n, v] of list) {
    if (n !== name) continue
    out = out === undefined ? v : `${out}, ${v}`
  }
  return out
}

/** True when the field is present. */
export function has(list: HeaderList, name: string): boolean {
  for (const pair of list) if (pair[0] === name) return true
  return false
}

/** The list without the named fields. */
export function without(list: HeaderList, names: ReadonlySet<string>): HeaderPair[] {
  return list.filter((pair) => !names.has(pair[0]))
}

/**
 * Fields a 304 must not change in the stored response (RFC 9111 §3.2): the ones describing the
 * stored body itself. `ETag` stays too: the stored validator identifies the stored body.
 */
export const NOT_UPDATED_BY_304: ReadonlySet<string> = new Set([
  'content-length', 'content-encoding', 'content-range', 'content-md5', 'etag', 'transfer-encoding',
])

/**
 * RFC 9111 §4.3.4: a 304 updates the stored header fields. Each field present in the 304 replaces
 * every stored line of that name; the others are kept.
 */
export function mergeNotModified(stored: HeaderList, update: HeaderList, skip: ReadonlySet<string>): HeaderPair[] {
  const replaced = new Set<string>()
  for (const [name] of update) if (!NOT_UPDATED_BY_304.has(name) && !skip.has(name)) replaced.add(name)
  const out: HeaderPair[] = stored.filter((pair) => !replaced.has(pair[0]))
  for (const pair of update) if (replaced.has(pair[0])) out.push(pair)
  return out
}

/** Approximate bytes of a header list on the wire (for weighing stored responses). */
export function headerBytes(list: HeaderList): number {
  let n = 0
  for (const [name, value] of list) n += name.length + value.length + 4
  return n
}
