import http from 'node:http'

/**
 * The counters `tiercache loadgen` reads before and after a run to tell what each layer did: the
 * edge's (its admin listener's `stats`, or the `edge` field of the catalog's stats, which
 * `tiercache start` fills) and the catalog's (`/.stack/stats`: L1, L2, database queries). A source
 * that does not answer is reported as such; the run goes on without it.
 */

/** The fields read from the edge's stats. */
export interface EdgeCounters {
  readonly requests: number
  readonly hits: number
  readonly misses: number
  readonly passes: number
}

/** The fields read from the catalog's stats. */
export interface AppCounters {
  readonly l1: { hits: number; misses: number } | undefined
  readonly l2: { hits: number; misses: number; errors: number; timeouts: number } | undefined
  /** Database queries made by the app, or undefined when the app does not count them. */
  readonly dbQueries: number | undefined
  /** Of which reads (`select`s). */
  readonly dbReads: number | undefined
}

export interface Snapshot {
  readonly app: AppCounters | { readonly unavailable: string }
  readonly edge: EdgeCounters | { readonly unavailable: string }
}

/** Where the counters come from. */
export interface StatsSources {
  /** The catalog's base URL (`/.stack/stats` is added). */
  readonly app: string
  /** The edge admin listener's base URL (`/.tiercache/stats` is added), or undefined to use the catalog's `edge` field. */
  readonly edgeAdmin: string | undefined
}

/** A layer's hits and misses over the run, and the share of hits (null when there was no lookup). */
export interface LayerDelta {
  readonly hits: number
  readonly misses: number
  readonly hitRatio: number | null
}

export interface StackDelta {
  readonly edge: (LayerDelta & { readonly requests: number; readonly passes: number }) | { readonly unavailable: string }
  readonly l1: LayerDelta | { readonly unavailable: string }
  readonly l2: (LayerDelta & { readonly errors: number }) | { readonly unavailable: string }
  readonly db: { readonly queries: number; readonly perSecond: number; readonly reads: number | null; readonly readsPerSecond: number | null } | { readonly unavailable: string }
}

/** Reads both sources; never throws (a source that fails is `{ unavailable: reason }`). */
export async function snapshot(sources: StatsSources, timeoutMs = 3000): Promise<Snapshot> {
  const appJson = await getJson(new URL('/.stack/stats', sources.app).toString(), timeoutMs)
  const app = 'unavailable' in appJson ? appJson : readApp(appJson.body, sources.app)
  let edge: Snapshot['edge']
  if (sources.edgeAdmin !== undefined) {
    const edgeJson = await getJson(new URL('/.tiercache/stats', sources.edgeAdmin).toString(), timeoutMs)
    edge = 'unavailable' in edgeJson ? edgeJson : readEdge(edgeJson.body, `${sources.edgeAdmin}/.tiercache/stats`)
  } else if ('unavailable' in appJson) {
    edge = { unavailable: `no --edge-admin given, and the catalog's stats did not answer (${appJson.unavailable})` }
  } else {
    const inApp = (appJson.body as { edge?: unknown }).edge
    edge = inApp === undefined || inApp === null
      ? { unavailable: 'no --edge-admin given, and the catalog\'s stats carry no edge counters' }
      : readEdge(inApp, `the edge field of ${sources.app}/.stack/stats`)
  }
  return { app, edge }
}

/** What each layer did between two snapshots, over `seconds`. */
export function stackDelta(before: Snapshot, after: Snapshot, seconds: number): StackDelta {
  const ratio = (hits: number, misses: number): number | null => (hits + misses === 0 ? null : hits / (hits + misses))
  let edge: StackDelta['edge']
  if ('unavailable' in before.edge) edge = before.edge
  else if ('unavailable' in after.edge) edge = after.edge
  else {
    const hits = after.edge.hits - before.edge.hits
    const misses = after.edge.misses - before.edge.misses
    edge = { requests: after.edge.requests - before.edge.requests, hits, misses, passes: after.edge.passes - before.edge.passes, hitRatio: ratio(hits, misses) }
  }
  const a = 'unavailable' in before.app ? before.app : 'unavailable' in after.app ? after.app : undefined
  if (a !== undefined) return { edge, l1: a, l2: a, db: a }
  const b = before.app as AppCounters
  const c = after.app as AppCounters
  const layer = (x: { hits: number; misses: number } | undefined, y: { hits: number; misses: number } | undefined): LayerDelta | undefined =>
    x === undefined || y === undefined ? undefined : { hits: y.hits - x.hits, misses: y.misses - x.misses, hitRatio: ratio(y.hits - x.hits, y.misses - x.misses) }
  const l1 = layer(b.l1, c.l1)
  const l2 = layer(b.l2, c.l2)
  return {
    edge,
    l1: l1 ?? { unavailable: 'the catalog runs without L1' },
    l2: l2 === undefined ? { unavailable: 'the catalog runs without Redis (L2)' }
      : { ...l2, errors: (c.l2!.errors + c.l2!.timeouts) - (b.l2!.errors + b.l2!.timeouts) },
    db: b.dbQueries === undefined || c.dbQueries === undefined
      ? { unavailable: 'the catalog\'s stats have no database query counter' }
      : {
        queries: c.dbQueries - b.dbQueries,
        perSecond: (c.dbQueries - b.dbQueries) / seconds,
        reads: b.dbReads === undefined || c.dbReads === undefined ? null : c.dbReads - b.dbReads,
        readsPerSecond: b.dbReads === undefined || c.dbReads === undefined ? null : (c.dbReads - b.dbReads) / seconds,
      },
  }
}

function readApp(body: unknown, source: string): Snapshot['app'] {
  const stats = body as { cache?: { l1?: AppCounters['l1']; l2?: AppCounters['l2'] }; db?: { queries?: unknown; reads?: unknown } }
  if (typeof stats !== 'object' || stats === null || typeof stats.cache !== 'object') return { unavailable: `${source}/.stack/stats is not the catalog's stats` }
  const queries = stats.db?.queries
  return {
    l1: stats.cache.l1 ?? undefined,
    l2: stats.cache.l2 ?? undefined,
    dbQueries: typeof queries === 'number' ? queries : undefined,
    dbReads: typeof stats.db?.reads === 'number' ? stats.db.reads : undefined,
  }
}

function readEdge(body: unknown, source: string): Snapshot['edge'] {
  const e = body as Partial<EdgeCounters>
  if (typeof e !== 'object' || e === null || typeof e.hits !== 'number' || typeof e.misses !== 'number') return { unavailable: `${source} is not an edge's stats` }
  return { requests: e.requests ?? 0, hits: e.hits, misses: e.misses, passes: e.passes ?? 0 }
}

/** GET a JSON document; `{ unavailable }` with the reason on any failure. */
function getJson(url: string, timeoutMs: number): Promise<{ body: unknown } | { unavailable: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', () => resolve({ unavailable: `${url}: the answer broke off` }))
      res.on('end', () => {
        if (res.statusCode !== 200) return resolve({ unavailable: `${url} answered ${res.statusCode}` })
        try {
          resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        } catch {
          resolve({ unavailable: `${url} did not answer JSON` })
        }
      })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'no answer in time' })))
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ unavailable: `${url} unreachable (${e.code ?? e.message})` }))
  })
}
