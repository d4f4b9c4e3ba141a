import { parseArgs } from 'node:util'
import { startStack } from '../../stack/start-stack.js'

const HELP = `usage: tiercache start [--port 8080] [--app-port 3000] [--products 1000] [--host 127.0.0.1]

Runs the stack on one machine: PostgreSQL (DATABASE_URL, else embedded PGlite), the demo catalog
app with tiercache (L1; with REDIS_URL also L2 and the Redis Streams bus), and the edge in front.
Needs no service at all by default.`

/** `tiercache start`: the demo stack on embedded defaults. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8080' },
      'app-port': { type: 'string', default: '3000' },
      products: { type: 'string', default: '1000' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const numbers = { port: Number(values.port), appPort: Number(values['app-port']), products: Number(values.products) }
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isInteger(value) || value < 0) {
      console.error(`tiercache start: expected --${name} to be a non-negative integer, got ${JSON.stringify(value)}`)
      return 2
    }
  }
  const databaseUrl = process.env.DATABASE_URL
  const redisUrl = process.env.REDIS_URL
  console.log(`starting: database ${databaseUrl === undefined ? 'embedded PGlite' : databaseUrl}, ${redisUrl === undefined ? 'L1 only (no REDIS_URL)' : `L1 + Redis ${redisUrl}`}`)
  const stack = await startStack({ ...numbers, host: values.host, databaseUrl, redisUrl })
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
