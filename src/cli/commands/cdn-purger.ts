import { readFile } from 'node:fs/promises'
import { redactUrl } from '../../stack/redact-url.js'
import { commandLogger, untilStopped } from '../command-support.js'
import { integerValue, nonEmptyValue, parseCommandLine } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache cdn-purger --config FILE [--dead-letters [--limit N]] [--check]

Follows a namespace's invalidation bus and purges CDNs: tags become surrogate-key purges (Varnish
xkey, Cloudflare cache tags, Fastly surrogate keys), cache keys and tags become URL purges through
the file's templates (nginx, CloudFront, and any CDN for keys). Each CDN has its own cursor in
Redis (a restart resumes where it stopped), its own pace (the provider's API limits), retries with
back-off, and a dead-letter list for what could not be purged: nothing is dropped silently. If the
bus lost messages it had not read, it purges everything on CDNs that can and dead-letters the gap on
the others. Ctrl-C (or SIGTERM) stops it.

FILE (JSON):
  {
    "namespace": "catalog",
    "redis": "redis://127.0.0.1:6379",
    "mapping": {
      "tags": [{ "match": "product:{id}", "urls": ["/api/products/{id}"] }],
      "keys": [{ "match": "product:{id}", "urls": ["/api/products/{id}"] }]
    },
    "providers": [
      { "type": "varnish", "url": "http://127.0.0.1:6081", "host": "www.example.com" },
      { "type": "nginx", "purgeUrl": "http://127.0.0.1:8082", "host": "www.example.com" },
      { "type": "cloudfront", "distributionId": "E2EXAMPLE" },
      { "type": "cloudflare", "zoneId": "...", "site": "https://www.example.com" },
      { "type": "fastly", "serviceId": "...", "host": "www.example.com" }
    ],
    "retry": { "attempts": 6, "baseDelayMs": 500, "maxDelayMs": 30000 }
  }
  A tag with no mapping.tags rule purges the surrogate key of the same name. Every provider takes
  "name", "requestsPerSecond", "burst" and "timeoutMs". Tokens come from the environment:
  CLOUDFLARE_API_TOKEN and FASTLY_API_TOKEN (or the variable named by "apiTokenEnv"); CloudFront
  uses the AWS SDK's credential chain (AWS_ACCESS_KEY_ID..., a profile, an instance role).

options:
  --config FILE     the configuration (JSON)
  --check           validate the configuration, print what it would drive, and exit
  --dead-letters    print the dead letters (newest first, one JSON object a line) and exit
  --limit N         with --dead-letters: at most N per provider (default 100)
  -h, --help        print this help
  -v, --version     print the tiercache version

Exit codes: 0 stopped, 1 a failure while running (Redis unreachable, a client package missing),
2 a command line or configuration to fix (E_CDN_CONFIG names the field).
`

/** `tiercache cdn-purger`: runs the CDN purger until SIGINT or SIGTERM. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'cdn-purger',
    help: HELP,
    options: {
      config: { type: 'string' },
      check: { type: 'boolean' },
      'dead-letters': { type: 'boolean' },
      limit: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  if (values.config === undefined) throw new UsageError('cdn-purger', '--config is required: the file naming the bus and the CDNs to purge')
  const path = nonEmptyValue('cdn-purger', '--config', values.config, '')
  const limit = integerValue('cdn-purger', '--limit', values.limit, { min: 1, max: 100_000 }, 100)
  const { parseCdnPurgerConfig, createPurger } = await import('../../cdn/config.js')
  let config
  try {
    const text = await readFile(path, 'utf8').catch((error: unknown) => {
      throw new UsageError('cdn-purger', `cannot read --config ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`)
    })
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (error) {
      throw Object.assign(new Error(`${path} is not valid JSON (${(error as Error).message})`), { code: 'E_CDN_CONFIG' })
    }
    config = parseCdnPurgerConfig(json)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'E_CDN_CONFIG') {
      console.error(`tiercache cdn-purger: E_CDN_CONFIG: ${path}: ${(error as Error).message}`)
      return 2
    }
    throw error
  }
  const where = `namespace ${JSON.stringify(config.namespace)} on ${redactUrl(config.redis)}`
  const names = config.providers.map((p) => `${p.name} (${p.type})`).join(', ')
  if (values.check === true) {
    console.log(`tiercache cdn-purger: configuration ok: would follow ${where} and purge ${names}`)
    return 0
  }
  const purgers = await Promise.all(config.providers.map((spec) => createPurger(spec)))
  const { CdnPurgeRunner } = await import('../../cdn/runner.js')
  const runner = new CdnPurgeRunner({
    redis: config.redis,
    namespace: config.namespace,
    name: config.name,
    purgers,
    mapping: config.mapping,
    retry: config.retry,
    logger: commandLogger('cdn-purger'),
  })
  try {
    if (values['dead-letters'] === true) {
      for (const letter of await runner.deadLetters(limit)) console.log(JSON.stringify(letter))
      return 0
    }
    runner.start()
    await runner.ready(30_000)
    console.log(`tiercache cdn-purger: following ${where}; purging ${names}`)
    await untilStopped()
    // Counted after closing: a purge in flight when the signal came finishes (or is given up) first.
    await runner.close()
    const stats = runner.stats()
    console.log(`tiercache cdn-purger: stopped after ${stats.purged} purge requests (${stats.retries} retries, ${stats.deadLettered} dead-lettered)`)
    return 0
  } finally {
    await runner.close()
  }
}
