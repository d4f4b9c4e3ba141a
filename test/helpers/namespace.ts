import { randomBytes } from 'node:crypto'

/** A namespace no other test (or earlier run) uses, so tests can share one Redis. */
export function freshNamespace(prefix = 't'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`
}
