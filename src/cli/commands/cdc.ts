import { readFile } from 'node:fs/promises'
import type { CaptureMapping } from '../../capture/mapping.js'
import { redactUrl } from '../../stack/redact-url.js'
import { commandLogger, connectPostgres, nonEmpty, untilStopped } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache cdc --config mapping.json [--database URL] [--redis URL] [--namespace NS] [--install] [--mode outbox|logical]

Turns the database's committed changes into cache invalidations: every node's L1, Redis (L2) and
every edge following the namespace's invalidation bus forget a row once its change commits,
whoever wrote it (the app, psql, a migration, a batch job). Outbox mode: a trigger on each mapped
table records the change in the same transaction; this process reads them in a commit-safe order,
publishes, and only then moves its cursor. Several may run: one works, the others stand by and
take over when it dies. Ctrl-C (or SIGTERM) stops it.

  tiercache cdc --config mapping.json --install     # once, and after each mapping change
  tiercache cdc --config mapping.json               # then keep it running next to the app

mapping.json:
  { "tables": { "products": { "key": "product:{id}", "tags": ["product:{id}", "products"], "version": "version" } } }

options:
  --config FILE        the mapping from tables to cache keys and tags (JSON)
  --install            install (or update) the outbox and the triggers, then exit
  --database URL       the PostgreSQL server (default $DATABASE_URL)
  --redis URL          the Redis of the caches and the bus (default $REDIS_URL)
  --namespace NS       the caches' namespace (createCache's namespace; default "default")
  --mode MODE          outbox (default: triggers and an outbox table; any PostgreSQL) or logical
                       (a replication slot with pgoutput; needs wal_level=logical and a user allowed
                       to replicate; the publication and slot are created at start, no --install)
  --poll-interval MS   longest delay when a wake-up notification is lost (default 1000)
  --lease MS           how soon a standby replaces a dead invalidator (default 5000)
  -h, --help           print this help
  -v, --version        print the tiercache version

Exit codes: 0 stopped (or installed), 1 a failure while running (database or Redis unreachable,
the mapping does not match the database, the outbox not installed), 2 a command line or mapping to fix.
`

/** `tiercache cdc`: installs the outbox, or runs the invalidator until SIGINT or SIGTERM. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'cdc',
    help: HELP,
    options: {
      config: { type: 'string' },
      install: { type: 'boolean' },
      database: { type: 'string' },
      redis: { type: 'string' },
      namespace: { type: 'string' },
      'poll-interval': { type: 'string' },
      lease: { type: 'string' },
      mode: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  if (values.config === undefined) throw new UsageError('cdc', '--config is required: the mapping from tables to cache keys and tags')
  const configPath = nonEmptyValue('cdc', '--config', values.config, '')
  const databaseUrl = nonEmptyValue('cdc', '--database', values.database ?? nonEmpty(process.env.DATABASE_URL), '')
  if (databaseUrl === '') throw new UsageError('cdc', '--database (or DATABASE_URL) is required: the PostgreSQL server whose changes to follow')
  const redisUrl = nonEmptyValue('cdc', '--redis', values.redis ?? nonEmpty(process.env.REDIS_URL), '')
  if (values.install !== true && redisUrl === '') throw new UsageError('cdc', '--redis (or REDIS_URL) is required: the Redis the caches and the invalidation bus use')
  const namespace = nonEmptyValue('cdc', '--namespace', values.namespace, 'default')
  const pollInterval = integerValue('cdc', '--poll-interval', values['poll-interval'], { min: 10, max: 3_600_000 }, 1000)
  const leaseTtl = integerValue('cdc', '--lease', values.lease, { min: 100, max: 3_600_000 }, 5000)
  if (pollInterval * 2 > leaseTtl) throw new UsageError('cdc', `--poll-interval (${pollInterval}) must be at most half of --lease (${leaseTtl}), so the lease is renewed in time`)

  const mode = values.mode ?? 'outbox'
  if (mode !== 'outbox' && mode !== 'logical') throw new UsageError('cdc', `--mode must be outbox or logical, got ${JSON.stringify(mode)}`)
  if (mode === 'logical' && values.install === true) throw new UsageError('cdc', '--install is for the outbox mode: the logical mode creates its publication and slot when it starts')
  const mapping = await loadMapping(configPath)
  if (mapping === undefined) return 2
  const db = await connectPostgres(databaseUrl)
  try {
    if (values.install === true) {
      const { installOutbox, outboxNames } = await import('../../capture/outbox-schema.js')
      await installOutbox(db, mapping)
      console.log(`tiercache cdc: installed ${outboxNames(mapping).outbox} and triggers on ${mapping.tables.map((t) => t.table).join(', ')} in ${redactUrl(databaseUrl)}`)
      return 0
    }
    const [{ createCache }, { cacheSink }, { startOutboxCapture }, { startLogicalCapture }] = await Promise.all([
      import('../../compose/create-cache.js'), import('../../capture/cache-sink.js'), import('../../capture/outbox-capture.js'),
      import('../../capture/logical-capture.js')])
    const logger = commandLogger('cdc')
    // A cache of its own, without L1: what it cannot deliver waits in its outbox, and capture does
    // not move past an invalidation until that outbox is empty.
    const cache = createCache({ namespace, l1: false, l2: { redis: redisUrl }, logger })
    try {
      const capture = mode === 'logical'
        ? await startLogicalCapture({ databaseUrl, mapping, sink: cacheSink(cache), logger, retryInterval: pollInterval })
        : await startOutboxCapture({ db, mapping, sink: cacheSink(cache), logger, pollInterval, leaseTtl })
      console.log(`tiercache cdc: following (${mode} mode) ${mapping.tables.map((t) => t.table).join(', ')} in ${redactUrl(databaseUrl)}; publishing to namespace ${JSON.stringify(namespace)} on ${redactUrl(redisUrl)}`)
      await untilStopped()
      // Counted after closing: close lets a step in flight finish, and a batch it had published
      // when the signal came is counted then.
      await capture.close()
      const stats = capture.stats()
      console.log(`tiercache cdc: stopped after publishing ${stats.published} changes (${stats.errors} errors)`)
      return 0
    } finally {
      await cache.close()
    }
  } catch (error) {
    if ((error as { code?: unknown }).code === 'E_CDC_CONFIG') {
      console.error(`tiercache cdc: E_CDC_CONFIG: ${(error as Error).message}`)
      return 2
    }
    throw error
  } finally {
    await db.close()
  }
}

/** Reads and checks the mapping file; prints why and answers undefined when it cannot be used. */
async function loadMapping(path: string): Promise<CaptureMapping | undefined> {
  const { parseCaptureMapping } = await import('../../capture/mapping.js')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    console.error(`tiercache cdc: cannot read --config ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`)
    return undefined
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    console.error(`tiercache cdc: E_CDC_CONFIG: ${path} is not valid JSON (${(error as Error).message})`)
    return undefined
  }
  try {
    return parseCaptureMapping(json)
  } catch (error) {
    console.error(`tiercache cdc: E_CDC_CONFIG: ${path}: ${(error as Error).message}`)
    return undefined
  }
}
