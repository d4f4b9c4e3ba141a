import { startStack } from '../../stack/start-stack.js'
import { integerValue, nonEmptyValue, parseCommandLine, portValue } from '../parse-command-line.js'

const HELP = `usage: tiercache start [--port 8080] [--app-port 3000] [--products 1000] [--host 127.0.0.1]

Runs the stack on one machine: PostgreSQL (DATABASE_URL, else embedded PGlite), the demo catalog
app with tiercache (L1; with REDIS_URL also L2 and the Redis Streams bus), and the edge in front.
Needs no service at all by default.`

/** `tiercache start`: the demo stack on embedded defaults. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'start',
    help: HELP,
    options: {
      port: { type: 'string' },
      'app-port': { type: 'string' },
      products: { type: 'string' },
      host: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  const numbers = {
    port: portValue('start', values.port === undefined ? 'PORT' : '--port', values.port ?? process.env.PORT, 8080),
    appPort: portValue('start', '--app-port', values['app-port'], 3000),
    products: integerValue('start', '--products', values.products, { min: 1, max: 1_000_000 }, 1000),
  }
  const host = nonEmptyValue('start', '--host', values.host, '127.0.0.1')
  const databaseUrl = process.env.DATABASE_URL
  const redisUrl = process.env.REDIS_URL
  console.log(`starting: database ${databaseUrl === undefined ? 'embedded PGlite' : databaseUrl}, ${redisUrl === undefined ? 'L1 only (no REDIS_URL)' : `L1 + Redis ${redisUrl}`}`)
  const stack = await startStack({ ...numbers, host, databaseUrl, redisUrl })
  console.log([
    '',
    `  edge (use this)   ${stack.edgeUrl}/api/products/1`,
    `  app (origin)      ${stack.appUrl}/api/products/1`,
    `  stats             ${stack.appUrl}/.stack/stats   ${stack.edgeUrl}/.tiercache/metrics`,
    `  update a product  curl -X PUT -d '{"price_cents":999}' ${stack.appUrl}/api/products/1`,
    `  purge token       ${stack.purgeToken}`,
    '',
    'Ctrl-C stops it.',
  ].join('\n'))
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await stack.close()
  return 0
}
