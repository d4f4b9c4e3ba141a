import { redactUrl } from '../../stack/redact-url.js'
import { commandLogger, connectPostgres, nonEmpty } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache warm --top N [--database URL] [--redis URL] [--namespace catalog] [--concurrency 8]

Loads the catalog's N most popular products (highest popularity first) into Redis, the shared tier,
as the catalog's own reads would cache them (same keys, tags, lifetimes and versions), so that app
nodes and edges started next find them there instead of going to the database all at once. Keys
already cached are skipped: run it again after an interruption and it loads only what is missing.
At most --concurrency products are read from the database at a time. Ctrl-C stops it; what was
loaded stays.

options:
  --top N             how many products, 1 to 10000000 (required)
  --database URL      the catalog's PostgreSQL server (default $DATABASE_URL)
  --redis URL         the Redis of the catalog's caches (default $REDIS_URL)
  --namespace NS      the caches' namespace (default catalog, as tiercache catalog uses)
  --concurrency N     database reads in flight at most, 1 to 256 (default 8)
  -h, --help          print this help
  -v, --version       print the tiercache version

Exit codes: 0 warmed (or stopped with Ctrl-C: 130), 1 some products failed or a service is
unreachable, 2 a command line to fix.
`

/** Redraws the progress at most this often on a terminal; elsewhere one line per this many ms × 10. */
const DRAW_EVERY_MS = 100

/** `tiercache warm --top N`: fills the shared tier with the most popular products. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'warm',
    help: HELP,
    options: {
      top: { type: 'string' },
      database: { type: 'string' },
      redis: { type: 'string' },
      namespace: { type: 'string' },
      concurrency: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  if (values.top === undefined) throw new UsageError('warm', '--top is required: how many of the most popular products to load')
  const top = integerValue('warm', '--top', values.top, { min: 1, max: 10_000_000 }, 0)
  const concurrency = integerValue('warm', '--concurrency', values.concurrency, { min: 1, max: 256 }, 8)
  const namespace = nonEmptyValue('warm', '--namespace', values.namespace, 'catalog')
  const databaseUrl = nonEmptyValue('warm', '--database', values.database ?? nonEmpty(process.env.DATABASE_URL), '')
  if (databaseUrl === '') throw new UsageError('warm', '--database (or DATABASE_URL) is required: the PostgreSQL server the catalog reads')
  const redisUrl = nonEmptyValue('warm', '--redis', values.redis ?? nonEmpty(process.env.REDIS_URL), '')
  if (redisUrl === '') throw new UsageError('warm', '--redis (or REDIS_URL) is required: warming fills the shared tier, which only Redis is')

  const [{ createCache }, { PRODUCT_ENTRY, loadProduct }] = await Promise.all([
    import('../../compose/create-cache.js'), import('../../stack/catalog-app.js')])
  const db = await connectPostgres(databaseUrl)
  const logger = commandLogger('warm')
  // No L1: this process exits when it is done; only what reaches Redis is of use to anyone.
  const cache = createCache({ namespace, l1: false, l2: { redis: redisUrl }, logger })
  const abort = new AbortController()
  const stop = (): void => { abort.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    // One read first: a Redis that refuses or does not answer makes it fall back (never throw);
    // the counters tell, and warming into nothing is refused with the reason instead.
    await cache.get('tiercache-warm:probe')
    const l2 = cache.stats().l2
    if (l2 === undefined || l2.errors + l2.timeouts + l2.skipped > 0) {
      throw Object.assign(new Error(`Redis at ${redactUrl(redisUrl)} does not answer`), { code: 'E_L2_UNAVAILABLE' })
    }
    const { rows } = await db.query<{ id: number; popularity: number }>(
      'select id, popularity from products order by popularity desc, id limit $1', [top])
    const ids = new Map(rows.map((r) => [PRODUCT_ENTRY.key(Number(r.id)), Number(r.id)]))
    const progress = new ProgressLine(rows.length)
    const result = await cache.warmTop(rows.map((r) => ({ key: PRODUCT_ENTRY.key(Number(r.id)), score: Number(r.popularity) })), top, async (ctx) => {
      const product = await loadProduct(db, ids.get(ctx.key) as number)
      if (product !== null) ctx.setVersion(product.version)
      return product
    }, {
      concurrency,
      ttl: PRODUCT_ENTRY.ttl,
      grace: PRODUCT_ENTRY.grace,
      tags: (key) => PRODUCT_ENTRY.tags(ids.get(key) as number),
      signal: abort.signal,
      onProgress: (p) => { progress.draw(p.done, p.loaded, p.skipped, p.errors, p.rate) },
    })
    progress.end()
    const seconds = (result.elapsedMs / 1000).toFixed(1)
    const verb = result.cancelled ? 'stopped' : 'warmed'
    console.log(`tiercache warm: ${verb} ${result.done} of ${rows.length} products in ${seconds} s: ${result.loaded} loaded, ${result.skipped} already cached, ${result.errors} failed (namespace ${JSON.stringify(namespace)} on ${redactUrl(redisUrl)})`)
    for (const failure of result.failures.slice(0, 5)) {
      console.error(`tiercache warm: ${failure.key}: ${failure.error instanceof Error ? failure.error.message : String(failure.error)}`)
    }
    if (result.cancelled) return 130
    return result.errors > 0 ? 1 : 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    await cache.close()
    await db.close()
  }
}

/**
 * The progress on stderr: a bar redrawn in place on a terminal, a plain line every second
 * elsewhere (a log file or a CI job gets lines, not carriage returns).
 */
class ProgressLine {
  readonly #total: number
  readonly #tty = process.stderr.isTTY
  #last = 0
  #drawn = false

  constructor(total: number) {
    this.#total = total
  }

  draw(done: number, loaded: number, skipped: number, errors: number, rate: number): void {
    const now = Date.now()
    if (now - this.#last < (this.#tty ? DRAW_EVERY_MS : DRAW_EVERY_MS * 10) && done < this.#total) return
    this.#last = now
    const share = this.#total === 0 ? 1 : done / this.#total
    const width = 30
    const filled = Math.round(share * width)
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
    const line = `${bar} ${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')} ${(share * 100).toFixed(0)}%  ${Math.round(rate).toLocaleString('en-US')}/s  loaded ${loaded}  cached ${skipped}  failed ${errors}`
    if (this.#tty) {
      process.stderr.write(`\r${line}`)
      this.#drawn = true
    } else {
      process.stderr.write(`${line}\n`)
    }
  }

  end(): void {
    if (this.#drawn) process.stderr.write('\n')
  }
}
