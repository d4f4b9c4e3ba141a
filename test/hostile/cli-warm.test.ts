/**
 * `tiercache warm --top N` as a user runs it: a real process, a real PostgreSQL (a schema of its
 * own) and Redis. It loads the N most popular products into Redis as the catalog caches them, skips
 * what is already there when run again, and refuses what it cannot do with one line.
 */
import { afterEach, describe, expect, inject, it } from 'vitest'
import { openPostgres } from '../../src/db/pg-database.js'
import { createCache } from '../../src/index.js'
import { seedCatalog } from '../../src/stack/catalog-app.js'
import { freshNamespace } from '../helpers/namespace.js'
import { freshSchema } from '../helpers/pg-schema.js'
import { run, stopAll } from './cli-process.js'

afterEach(() => stopAll())

describe('tiercache warm: usage', () => {
  it.each([
    [[], {}, '--top is required'],
    [['--top', 'ten'], {}, '--top must be an integer'],
    [['--top', '0'], {}, '--top must be'],
    [['--top', '10'], { DATABASE_URL: undefined }, '--database (or DATABASE_URL) is required'],
    [['--top', '10', '--database', 'postgres://h/db'], { REDIS_URL: undefined }, '--redis (or REDIS_URL) is required'],
    [['--top', '10', '--concurency', '4'], {}, 'did you mean --concurrency?'],
  ])('%j: exit 2, one line', async (args, env, message) => {
    const { code, err } = await run(['warm', ...args], env)
    expect(code).toBe(2)
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain(message)
  })

  it('a Redis that refuses connections: exit 1, naming it, nothing half done', async () => {
    const { code, err } = await run(['warm', '--top', '5', '--database', inject('databaseUrl'), '--redis', 'redis://127.0.0.1:1'])
    expect(code).toBe(1)
    expect(err).toContain('does not answer')
  })
})

describe('tiercache warm: against the catalog', () => {
  it('loads the most popular products into Redis as the catalog caches them; a second run loads nothing', async () => {
    const schema = await freshSchema(inject('databaseUrl'))
    const db = await openPostgres(schema.url)
    const namespace = freshNamespace('cli-warm')
    const reader = createCache({ namespace, l1: false, logger: false, l2: { redis: inject('redisUrl'), timeout: '2s' } })
    try {
      await seedCatalog(db, 300)
      const { rows } = await db.query<{ id: number }>('select id from products order by popularity desc, id')
      const hot = rows.slice(0, 50).map((r) => Number(r.id))
      const cold = rows.slice(50).map((r) => Number(r.id))
      const args = ['warm', '--top', '50', '--database', schema.url, '--redis', inject('redisUrl'), '--namespace', namespace, '--concurrency', '4']

      const first = await run(args)
      expect(first.code, first.err).toBe(0)
      expect(first.out).toContain('warmed 50 of 50 products')
      expect(first.out).toContain('50 loaded, 0 already cached, 0 failed')
      expect(first.err).toContain('50/50 100%')
      for (const id of hot) {
        const entry = await reader.getEntry<{ id: number; version: number }>(`product:${id}`)
        expect(entry?.source).toBe('l2')
        expect(entry?.value).toMatchObject({ id, version: 1 })
      }
      // Nothing beyond the top 50.
      for (const id of cold.slice(0, 20)) expect(await reader.get(`product:${id}`)).toBeUndefined()

      // Warmed entries carry the product's tag, as the catalog's own reads do: invalidating it drops one.
      await reader.invalidateTags([`product:${hot[0]!}`])
      expect(await reader.get(`product:${hot[0]!}`)).toBeUndefined()

      const second = await run(args)
      expect(second.code, second.err).toBe(0)
      expect(second.out).toContain('1 loaded, 49 already cached, 0 failed')
    } finally {
      await reader.close()
      await db.close()
      await schema.drop()
    }
  })
})
