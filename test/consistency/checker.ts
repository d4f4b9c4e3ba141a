/**
 * The end-of-run check: after quiescence, no layer of any process may serve a value that differs
 * from the database. L1 of each worker is read with `peek` (synchronous, L1 only, fresh and
 * tag-valid values only); L2 through a fresh cache without L1, whose `get` applies the same
 * freshness and tag rules every node applies to an L2 entry.
 */
import pg from 'pg'
import { createCache } from '../../src/compose/create-cache.js'
import { keyOf } from './protocol.js'
import type { PeekRow } from './protocol.js'

/** One key that a layer serves differently from the database. */
export interface StaleKey {
  readonly layer: 'L1' | 'L2'
  /** Worker index, for L1. */
  readonly worker: number | undefined
  readonly key: string
  readonly cachedVersion: number
  readonly cachedData: string
  readonly dbVersion: number
  readonly dbData: string
}

export interface CheckResult {
  readonly keys: number
  /** Keys each worker's L1 holds (fresh and valid) at check time. */
  readonly l1Held: readonly number[]
  /** Keys L2 serves at check time. */
  readonly l2Held: number
  readonly stale: readonly StaleKey[]
}

interface Row {
  id: number
  version: number
  data: string
}

/** Compares every layer with the table. `peeks[w]` is worker w's {@link PeekRow} list, by id. */
export async function checkLayers(options: {
  databaseUrl: string
  table: string
  redisUrl: string
  namespace: string
  keys: number
  peeks: readonly (readonly PeekRow[])[]
}): Promise<CheckResult> {
  const db = new pg.Client({ connectionString: options.databaseUrl })
  await db.connect()
  let rows: Row[]
  try {
    rows = (await db.query<Row>(`select id, version, data from ${options.table} order by id`)).rows
  } finally {
    await db.end()
  }
  const truth = new Map(rows.map((r) => [r.id, r]))
  const stale: StaleKey[] = []
  const differs = (id: number, version: number, data: string): Row | undefined => {
    const row = truth.get(id)
    if (row === undefined) throw new Error(`row ${id} is missing from ${options.table}`)
    return row.version !== version || row.data !== data ? row : undefined
  }

  const l1Held = options.peeks.map((peek, worker) => {
    let held = 0
    peek.forEach((cached, id) => {
      if (cached === null) return
      held++
      const [cachedId, version, data] = cached
      const row = cachedId === id ? differs(id, version, data) : truth.get(id)
      if (row !== undefined) {
        stale.push({ layer: 'L1', worker, key: keyOf(id), cachedVersion: version, cachedData: data, dbVersion: row.version, dbData: row.data })
      }
    })
    return held
  })

  const reader = createCache({ namespace: options.namespace, l1: false, l2: { redis: options.redisUrl, timeout: '2s' }, bus: false, logger: false })
  let l2Held = 0
  try {
    for (let id = 0; id < options.keys; id++) {
      const cached = await reader.get<Row>(keyOf(id))
      if (cached === undefined) continue
      l2Held++
      const row = cached.id === id ? differs(id, cached.version, cached.data) : truth.get(id)
      if (row !== undefined) {
        stale.push({ layer: 'L2', worker: undefined, key: keyOf(id), cachedVersion: cached.version, cachedData: cached.data, dbVersion: row.version, dbData: row.data })
      }
    }
    const l2 = reader.stats().l2
    if (l2 !== undefined && l2.errors + l2.timeouts + l2.skipped > 0) {
      throw new Error(`the L2 check could not read Redis (${l2.errors} errors, ${l2.timeouts} timeouts, ${l2.skipped} skipped): the result would be meaningless`)
    }
  } finally {
    await reader.close()
  }
  return { keys: options.keys, l1Held, l2Held, stale }
}
