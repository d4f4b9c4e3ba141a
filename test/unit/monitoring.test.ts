import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import type { CaptureStats } from '../../src/ports/capture.js'
import type { CdnPurgeRunnerStats } from '../../src/cdn/runner.js'
import { MemoryBus } from '../../src/bus/memory-bus.js'
import { createCache } from '../../src/compose/create-cache.js'
import { systemClock } from '../../src/core/clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { createEdge } from '../../src/edge/index.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { collectMetrics } from '../../src/metrics/index.js'
import { ChaosStore } from '../helpers/chaos-store.js'
import { requirePromtool } from '../helpers/promtool.js'

const monitoring = fileURLToPath(new URL('../../monitoring/', import.meta.url))
const RULES = join(monitoring, 'tiercache-alerts.yml')
const RULE_TESTS = join(monitoring, 'tests/tiercache-alerts.test.yml')
const DASHBOARD = join(monitoring, 'grafana/tiercache-dashboard.json')

function promtool(args: string[]): Promise<{ ok: boolean; output: string }> {
  const bin = requirePromtool()
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: monitoring }, (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}` }))
  })
}

/** Every metric name the exporters emit for a cache with L1, L2 and a bus, an edge, a change capture and a CDN purge runner; histogram names with their series suffixes. */
async function emittedNames(): Promise<Set<string>> {
  const registry = new Registry()
  const cache = createCache({ logger: silentLogger, namespace: 'names', bus: new MemoryBus(), l2: { store: new ChaosStore(new LruStore({ maxBytes: 1 << 20, clock: systemClock })) } })
  const edge = createEdge({ origin: 'http://127.0.0.1:9', logger: silentLogger })
  const a = collectMetrics(cache, { registry })
  const b = collectMetrics(edge, { registry })
  // A change capture's families: its names depend on nothing but the stats' shape.
  const capture = { stats: (): CaptureStats => ({ mode: 'outbox', active: true, published: 0, messages: 0, changesPerSecond: 0, lagMs: 0, maxLagMs: 0, depth: 0, errors: 0, skipped: 0, steps: 0, takeovers: 0 }) }
  const c = collectMetrics(capture, { registry })
  // A CDN purge runner's families, the same way (one purger is enough to name them all).
  const purger = { purger: 'p', provider: 'varnish', purged: 0, retries: 0, deadLettered: 0, deadLetters: 0, messages: 0, ignored: 0, gaps: 0, cursor: undefined, connected: true }
  const cdn = { stats: (): CdnPurgeRunnerStats => ({ purgers: [purger], purged: 0, deadLettered: 0, retries: 0 }) }
  const d = collectMetrics(cdn, { registry })
  const names = new Set<string>()
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name)
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`)
  }
  a.close()
  b.close()
  c.close()
  d.close()
  await cache.close()
  await edge.close()
  return names
}

const metricNames = (expr: string): string[] => [...expr.matchAll(/\btiercache_[a-z0-9_]+\b/g)].map((m) => m[0])

describe('monitoring: alert rules', () => {
  it('pass promtool check rules', async () => {
    const r = await promtool(['check', 'rules', RULES])
    expect(r.output).toContain('SUCCESS')
    expect(r.ok).toBe(true)
  })

  it('pass their promtool unit tests, which cover every alert', async () => {
    const r = await promtool(['test', 'rules', RULE_TESTS])
    expect(r.output).toContain('SUCCESS')
    expect(r.ok).toBe(true)
    const alerts = [...(await readFile(RULES, 'utf8')).matchAll(/- alert: (\w+)/g)].map((m) => m[1])
    const tested = new Set([...(await readFile(RULE_TESTS, 'utf8')).matchAll(/alertname: (\w+)/g)].map((m) => m[1]))
    expect(alerts.length).toBeGreaterThanOrEqual(7)
    for (const alert of alerts) expect(tested.has(alert), alert).toBe(true)
  })

  it('are checked for real: promtool refuses a broken rule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiercache-rules-'))
    try {
      const file = join(dir, 'broken.yml')
      await writeFile(file, 'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: rate(tiercache_requests_total[5m]\n')
      expect((await promtool(['check', 'rules', file])).ok).toBe(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('use only metrics the exporters emit', async () => {
    const names = await emittedNames()
    const used = metricNames(await readFile(RULES, 'utf8'))
    expect(used.length).toBeGreaterThan(10)
    for (const name of used) expect(names.has(name), name).toBe(true)
  })
})

describe('monitoring: Grafana dashboard', () => {
  interface Panel { type: string; id: number; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid: string }; targets?: { expr: string; refId: string }[] }
  let dashboard: { panels: Panel[]; templating: { list: { name: string }[] }; uid: string; title: string }
  let names: Set<string>
  beforeAll(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as typeof dashboard
    names = await emittedNames()
  })

  it('has a row per layer, each with panels, unique ids and a datasource variable', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)
    expect(rows).toEqual(['Edge', 'L1 (in-process)', 'L2 (Redis)', 'Loader (database)', 'Invalidation bus', 'Change capture (tiercache cdc)', 'CDN purging (tiercache cdn-purger)'])
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace'])
    let inRow = 0
    for (const p of dashboard.panels) {
      if (p.type === 'row') {
        inRow = 0
        continue
      }
      inRow++
      expect(p.datasource?.uid, p.title).toBe('${datasource}')
      expect(p.gridPos.w, p.title).toBeGreaterThan(0)
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      const refIds = p.targets!.map((t) => t.refId)
      expect(new Set(refIds).size, p.title).toBe(refIds.length)
    }
    expect(inRow).toBeGreaterThan(0)
  })

  it('queries only metrics the exporters emit, and shows every family they emit', () => {
    const used = new Set<string>()
    for (const p of dashboard.panels) for (const t of p.targets ?? []) for (const name of metricNames(t.expr)) used.add(name)
    for (const name of used) expect(names.has(name), name).toBe(true)
    const base = (n: string): string => n.replace(/_(bucket|sum|count)$/, '')
    const shown = new Set([...used].map(base))
    const families = new Set([...names].map(base))
    // Every family has a panel, except the edge's finer purge/request bookkeeping listed here.
    const notPanelled = new Set(['tiercache_edge_revalidations_total', 'tiercache_edge_collapsed_total', 'tiercache_edge_stored_total',
      'tiercache_edge_not_stored_total', 'tiercache_edge_origin_body_timeouts_total', 'tiercache_edge_fills_cancelled_total',
      'tiercache_edge_waiters_refused_total', 'tiercache_edge_bytes_total', 'tiercache_edge_purge_batches_total',
      'tiercache_edge_purges_rate_limited_total', 'tiercache_edge_purge_refused_total', 'tiercache_edge_bus_gaps_total',
      'tiercache_edge_storage_errors_total'])
    for (const family of families) if (!notPanelled.has(family)) expect(shown.has(family), family).toBe(true)
  })
})
