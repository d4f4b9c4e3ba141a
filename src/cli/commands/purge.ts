import { isTierCacheError } from '../../core/errors.js'
import { UsageError } from '../usage-error.js'
import { parseCommandLine } from '../parse-command-line.js'

const HELP = `usage: tiercache purge [--tag T]... [--url PATH]... [--prefix PATH]... [--soft] [--edge URL]

Asks an edge to purge; the edge applies it and publishes it on the invalidation bus, so every edge
node and every app cache holding the tag follows.

options:
  --tag T          purge responses tagged T (Surrogate-Key / Cache-Tag); repeatable
  --url PATH       purge one URL (all its variants); repeatable
  --prefix PATH    purge every URL under PATH; repeatable
  --soft           mark stale (kept for stale-if-error, revalidated) instead of removing
  --edge URL       the edge to ask (default $TIERCACHE_EDGE_URL or http://127.0.0.1:8080)
  -h, --help       print this help
  -v, --version    print the tiercache version

environment:
  TIERCACHE_PURGE_TOKEN   the edge's purge token (required; not taken on the command line, where
                          other users could read it)
`

/** `tiercache purge`: exit 0 when purged, 1 when the edge could not be reached, 2 on bad input or a refused token. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'purge',
    help: HELP,
    options: {
      tag: { type: 'string', multiple: true },
      url: { type: 'string', multiple: true },
      prefix: { type: 'string', multiple: true },
      soft: { type: 'boolean' },
      edge: { type: 'string' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  const token = process.env.TIERCACHE_PURGE_TOKEN
  if (token === undefined || token === '') {
    throw new UsageError('purge', 'set TIERCACHE_PURGE_TOKEN to the edge\'s purge token (tiercache start tells where it wrote its own)')
  }
  if ((values.tag?.length ?? 0) + (values.url?.length ?? 0) + (values.prefix?.length ?? 0) === 0) {
    throw new UsageError('purge', 'name at least one --tag, --url or --prefix')
  }
  for (const [flag, list] of [['--tag', values.tag], ['--url', values.url], ['--prefix', values.prefix]] as const) {
    if (list?.some((v) => v.trim() === '') === true) throw new UsageError('purge', `${flag} must not be empty`)
  }
  const edge = values.edge ?? process.env.TIERCACHE_EDGE_URL ?? 'http://127.0.0.1:8080'
  if (!isHttpUrl(edge)) {
    throw new UsageError('purge', `${values.edge === undefined ? 'TIERCACHE_EDGE_URL' : '--edge'} must be an http:// or https:// URL, got ${JSON.stringify(edge.slice(0, 100))}`)
  }
  const { purgeRemote } = await import('../../edge/purge-client.js')
  try {
    const result = await purgeRemote({
      edge,
      token,
      ...(values.tag === undefined ? {} : { tags: values.tag }),
      ...(values.url === undefined ? {} : { urls: values.url }),
      ...(values.prefix === undefined ? {} : { prefixes: values.prefix }),
      soft: values.soft === true,
    })
    console.log(`purged ${result.entries} entr${result.entries === 1 ? 'y' : 'ies'} on ${result.id}${result.published ? ', published on the bus' : ' (no bus: this edge only)'}`)
    return 0
  } catch (error) {
    if (isTierCacheError(error)) {
      console.error(`tiercache purge: ${error.code}: ${error.message}`)
      return error.code === 'E_PURGE_FAILED' ? 1 : 2
    }
    throw error
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
