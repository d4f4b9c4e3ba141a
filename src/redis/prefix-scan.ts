import calculateSlot from 'cluster-key-slot'
import type { Redis } from 'ioredis'
import type { PrefixCursor, PrefixStep } from '../ports/prefix-store.js'
import type { RedisClient } from './connection.js'
import { isCluster } from './connection.js'
import type { RedisKeys } from './keys.js'

/**
 * Where a prefix removal stands: the phase (fill leases first, then entries), the masters as they
 * were when the phase started (by address), which of them is being scanned and its SCAN cursor.
 */
interface Cursor {
  readonly phase: 0 | 1
  readonly nodes: readonly string[]
  readonly node: number
  readonly scan: string
}

/**
 * One step of removing every key that starts with `prefix` (see ports/prefix-store.ts): one SCAN of
 * about `batch` keys on one master, then UNLINK of what matched, in commands of at most `batch`
 * keys (on a Cluster one per hash slot, since a multi-key command must stay in one slot).
 *
 * Leases go first: a fill that took its lease before the removal started either loses it here, or
 * released it by writing its entry before the entry phase began, and then SCAN (which returns every
 * key present for the whole scan) finds that entry. So no fill that read the source before the
 * removal can leave its value behind.
 *
 * If the set of masters changes between steps (a failover, a resharding), the phase starts over:
 * a removal costs more, but never skips a node.
 */
export async function deletePrefixStep(client: RedisClient, keys: RedisKeys, prefix: string, cursor: PrefixCursor | undefined,
  batch: number): Promise<PrefixStep> {
  const masters = mastersOf(client)
  const addresses = masters.map(addressOf)
  let at = cursor as Cursor | undefined
  if (at === undefined || at.nodes.length !== addresses.length || at.nodes.some((a, i) => a !== addresses[i])) {
    at = { phase: at?.phase ?? 0, nodes: addresses, node: 0, scan: '0' }
  }
  const node = masters[at.node] as Redis
  const patterns = keys.prefixPatterns(prefix)
  const [next, found] = await node.scan(at.scan, 'MATCH', at.phase === 0 ? patterns.leases : patterns.entries, 'COUNT', batch)
  let deleted = 0
  if (found.length > 0) deleted = await unlinkAll(node, found, batch, isCluster(client))
  let following: Cursor | undefined = { ...at, scan: next }
  if (next === '0') {
    if (at.node + 1 < at.nodes.length) following = { ...at, node: at.node + 1, scan: '0' }
    else following = at.phase === 0 ? { phase: 1, nodes: at.nodes, node: 0, scan: '0' } : undefined
  }
  return { cursor: following, deleted }
}

function mastersOf(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client]
}

function addressOf(node: Redis): string {
  return `${String(node.options.host)}:${String(node.options.port)}`
}

async function unlinkAll(node: Redis, found: readonly string[], batch: number, cluster: boolean): Promise<number> {
  const groups: string[][] = []
  if (cluster) {
    const bySlot = new Map<number, string[]>()
    for (const key of found) {
      const slot = calculateSlot(key)
      const group = bySlot.get(slot)
      if (group === undefined) bySlot.set(slot, [key])
      else group.push(key)
    }
    for (const group of bySlot.values()) for (let i = 0; i < group.length; i += batch) groups.push(group.slice(i, i + batch))
  } else {
    for (let i = 0; i < found.length; i += batch) groups.push(found.slice(i, i + batch))
  }
  const counts = await Promise.all(groups.map((group) => node.unlink(...group)))
  return counts.reduce((a, b) => a + b, 0)
}
