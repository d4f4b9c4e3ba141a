import type { IncomingHttpHeaders } from 'node:http'
import type { HeaderList } from './header-list.js'
import { getAll } from './header-list.js'

/**
 * `Vary` (RFC 9111 §4.1): the response names request headers that select it. A stored response is
 * reused only when those headers match the stored request's, after normalisation (whitespace around
 * commas, repeated lines combined). `Vary: *` (alone or among names) never matches.
 */
export type VaryNames = readonly string[] | '*'

/** The names of `Vary`, lowercased, sorted and deduplicated; undefined when absent or empty. */
export function parseVary(list: HeaderList): VaryNames | undefined {
  const names = new Set<string>()
  for (const line of getAll(list, 'vary')) {
    for (const part of line.split(',')) {
      const name = part.trim().toLowerCase()
      if (name === '*') return '*'
      if (name !== '') names.add(name)
    }
  }
  return names.size === 0 ? undefined : [...names].sort()
}

const MISSING = '\u0001'

/** The secondary key: the selecting headers' normalised values, in name order. */
export function varyKey(names: readonly string[], headers: IncomingHttpHeaders): string {
  let out = ''
  for (const name of names) {
    const value = headers[name]
    const text = value === undefined ? MISSING : Array.isArray(value) ? value.join(',') : value
    out += `${text.replace(/[ \t]*,[ \t]*/g, ',').trim()}\u0000`
  }
  return out
}
