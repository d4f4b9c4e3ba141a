/**
 * NOTIFY only wakes the outbox invalidator; it never carries the truth. With every notification
 * lost (a listener that never fires, or LISTEN refused), a committed change is still published,
 * by the poll every `pollInterval`. On both databases. The signal waited for is the publish itself
 * (nothing here calls `waitFor`, which would wake the invalidator).
 */
import { describe, expect, inject, it } from 'vitest'
import { parseCaptureMapping } from '../../src/capture/mapping.js'
import { startOutboxCapture } from '../../src/capture/outbox-capture.js'
import { installOutbox } from '../../src/capture/outbox-schema.js'
import type { Database } from '../../src/db/database.js'
import { openPostgres } from '../../src/db/pg-database.js'
import { openPglite } from '../../src/db/pglite-database.js'
import type { ChangeCapture, InvalidationSink } from '../../src/ports/capture.js'
import { CATALOG_MAPPING, seedCatalog } from '../../src/stack/catalog-app.js'
import { freshSchema } from '../helpers/pg-schema.js'
import { until } from '../helpers/until.js'

const quiet = { warn: () => {}, error: () => {} }
const mapping = parseCaptureMapping(CATALOG_MAPPING)

/** The database with its notifications lost: `listen` succeeds and never calls back, or fails. */
function deaf(db: Database, how: 'silent' | 'refused'): Database {
  return {
    kind: db.kind,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    listen: () => how === 'silent' ? Promise.resolve(() => Promise.resolve()) : Promise.reject(new Error('LISTEN refused')),
    close: () => db.close(),
  }
}

describe.each(['postgres', 'pglite'] as const)('change capture with lost wake-ups, on %s', (kind) => {
  it.each(['silent', 'refused'] as const)('a listener that is %s: a change is published by the next poll', async (how) => {
    const schema = kind === 'postgres' ? await freshSchema(inject('databaseUrl')) : undefined
    const db = schema === undefined ? await openPglite() : await openPostgres(schema.url)
    let capture: ChangeCapture | undefined
    try {
      await seedCatalog(db, 5)
      await installOutbox(db, mapping)
      const published: Parameters<InvalidationSink['invalidate']>[0][] = []
      let arrived!: () => void
      const arrival = new Promise<void>((resolve) => { arrived = resolve })
      capture = await startOutboxCapture({
        db: deaf(db, how), mapping, logger: quiet, pollInterval: 100, leaseTtl: 1000,
        sink: { invalidate: (message) => { published.push(message); arrived(); return Promise.resolve(true) } },
      })
      // The first step (at start) is over: only a poll can read what commits now.
      await until(() => capture!.stats().steps >= 1, 'the first step done')
      await db.query('update products set stock = 4 where id = 4')
      await arrival
      expect(published).toEqual([{ keys: ['product:4'], tags: ['product:4', 'products'], version: 1 }])
    } finally {
      await capture?.close()
      await db.close()
      await schema?.drop()
    }
  })
})
