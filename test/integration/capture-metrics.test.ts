/**
 * Change capture's figures through `collectMetrics`: scraped, parsed by a real Prometheus
 * text-format parser, and checked against changes made in SQL (embedded PGlite: no service needed).
 */
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { cacheSink } from '../../src/capture/cache-sink.js'
import { parseCaptureMapping } from '../../src/capture/mapping.js'
import { startOutboxCapture } from '../../src/capture/outbox-capture.js'
import { installOutbox } from '../../src/capture/outbox-schema.js'
import { createCache } from '../../src/compose/create-cache.js'
import { openPglite } from '../../src/db/pglite-database.js'
import { collectMetrics } from '../../src/metrics/index.js'
import { CATALOG_MAPPING, seedCatalog } from '../../src/stack/catalog-app.js'
import { parseScrape } from '../helpers/prometheus-text.js'

describe('change capture metrics', () => {
  it('counts the changes published, and shows depth, lag and the lease, from the first scrape on', async () => {
    const db = await openPglite()
    const cache = createCache({ namespace: 'capture-metrics', logger: false })
    const mapping = parseCaptureMapping(CATALOG_MAPPING)
    try {
      await seedCatalog(db, 20)
      await installOutbox(db, mapping)
      const capture = await startOutboxCapture({ db, mapping, sink: cacheSink(cache), logger: { warn: () => {}, error: () => {} } })
      const registry = new Registry()
      const collection = collectMetrics(capture, { registry })
      try {
        // Scraped before any change: every family is there, at zero.
        let scrape = parseScrape(await registry.metrics())
        expect(scrape.value('tiercache_capture_changes_total', { mode: 'outbox' })).toBe(0)
        expect(scrape.type('tiercache_capture_outbox_depth')).toBe('GAUGE')

        const { rows } = await db.query<{ xid: string }>('update products set price_cents = price_cents + 1, version = version + 1 where id <= 5 returning pg_current_xact_id()::text as xid')
        await capture.waitFor(BigInt(rows[0]!.xid))
        scrape = parseScrape(await registry.metrics())
        expect(scrape.value('tiercache_capture_changes_total', { mode: 'outbox' })).toBe(5)
        expect(scrape.value('tiercache_capture_errors_total')).toBe(0)
        expect(scrape.value('tiercache_capture_active')).toBe(1)
        expect(scrape.value('tiercache_capture_lag_seconds')).toBeGreaterThanOrEqual(0)
        expect(scrape.value('tiercache_capture_max_lag_seconds')).toBeGreaterThanOrEqual(scrape.value('tiercache_capture_lag_seconds'))
        expect(scrape.value('tiercache_capture_outbox_depth')).toBe(capture.stats().depth)
        // One capture per registry: a second is refused, and the first keeps working.
        expect(() => collectMetrics(capture, { registry })).toThrow(expect.objectContaining({ code: 'E_METRICS_CONFLICT' }))
      } finally {
        collection.close()
        await capture.close()
      }
    } finally {
      await cache.close()
      await db.close()
    }
  })
})
