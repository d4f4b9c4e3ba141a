import type { DashboardCache } from './dashboard.js'

/** How long an update waited for each layer to show the new version, in ms from the write's start. */
export interface Propagation {
  readonly id: number
  readonly version: number
  readonly price_cents: number
  /** The write committed (the PUT answered: commit, then the invalidation of every tier). */
  readonly database: number
  /** The app node's L1 no longer held the old version (null: it did not hold the product). */
  readonly l1: number | null
  /** A read through the app (L1, L2, database) answered the new version. */
  readonly app: number
  /** A read through the edge answered the new version. */
  readonly edge: number
}

/** How long a layer may take before the update is reported as not propagated. */
const PROPAGATION_DEADLINE_MS = 5_000

/**
 * Writes a new price through the app (`PUT /api/products/:id`: commit, then invalidate) and
 * watches the change reach each layer: the L1 entry of this node, a read through the app, a read
 * through the edge (purged through the bus). Reads are repeated until they show the new version,
 * so each delay is measured, not assumed.
 */
export async function updateAndTrace(cache: DashboardCache, appUrl: string, edgeUrl: string, id: number): Promise<Propagation> {
  const price = 100 + Math.floor(Math.random() * 99_900)
  const key = `product:${id}`
  const started = performance.now()
  let l1At: number | undefined
  let version = Number.POSITIVE_INFINITY
  const old = cache.peek<{ version?: number }>(key)?.version
  // L1 is watched from the start: with the in-process bus the entry goes within the PUT.
  const watchL1 = (): void => {
    const held = cache.peek<{ version?: number }>(key)?.version
    if (held === undefined || held !== old) {
      l1At = performance.now() - started
      return
    }
    if (performance.now() - started < PROPAGATION_DEADLINE_MS) setImmediate(watchL1)
  }
  if (old !== undefined) watchL1()
  const response = await fetch(`${appUrl}/api/products/${id}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ price_cents: price }),
  })
  const committed = performance.now() - started
  const body = await response.json() as { version?: number; error?: string }
  if (!response.ok || typeof body.version !== 'number') throw new Error(`the write failed: ${response.status} ${body.error ?? ''}`.trim())
  version = body.version
  const until = async (url: string): Promise<number> => {
    for (;;) {
      const r = await fetch(url)
      const seen = await r.json() as { version?: number }
      if (typeof seen.version === 'number' && seen.version >= version) return performance.now() - started
      if (performance.now() - started > PROPAGATION_DEADLINE_MS) throw new Error(`${url} still answers version ${seen.version} after ${PROPAGATION_DEADLINE_MS} ms`)
    }
  }
  const [app, edge] = await Promise.all([until(`${appUrl}/api/products/${id}`), until(`${edgeUrl}/api/products/${id}`)])
  return { id, version, price_cents: price, database: committed, l1: old === undefined ? null : (l1At ?? committed), app, edge }
}
