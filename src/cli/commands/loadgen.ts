import { LoadOptionError, httpUrl, parseLoadOptions } from '../../loadgen/load-options.js'
import type { LoadProgress } from '../../loadgen/run-load.js'
import { parseCommandLine } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache loadgen [--rate N | --connections N] [--duration 30s] [--zipf 1.0] [--keys 1000] [--writes 5%] [--target URL] [--json]

Sends catalog traffic (GET /api/products/:id, and PATCH of the same products for the write share)
to the edge that tiercache start serves, or to any --target, then prints throughput, latency
quantiles, errors by kind, and what each layer did: the edge's hit ratio, L1's and Redis's, and the
database queries per second, from the counters of the edge and the catalog before and after the run.

Two ways to load:
  --rate N            open loop: N requests per second on a fixed timetable, whatever the answers
                      do; latency runs from each request's scheduled time, so a server that stalls
                      shows the stall in p99 and max instead of hiding it (coordinated omission)
  --connections N     closed loop (without --rate): N clients, each sending its next request when
                      the last is answered: the maximum rate (default 64); with --rate, the most
                      connections the timetable may use

options:
  --duration D        how long, such as 30s or 2m (default 30s)
  --keys N            product ids 1..N are requested (default 1000, what tiercache start seeds)
  --zipf S            popularity skew: id k is drawn with weight 1/k^S (default 1.0; 0 is uniform)
  --writes P%         share of requests that are PATCH /api/products/:id (default 0%), sent to
                      --write-target
  --timeout D         a request without an answer for D is a timeout (default 10s)
  --seed N            seed of the key and mix draws (default 1: two runs offer the same requests)
  --target URL        where reads go (default http://127.0.0.1:8080, the edge of tiercache start)
  --write-target URL  where writes go (default: --app; an edge, like a CDN's API behavior, forwards
                      only GET and HEAD on /api/*)
  --app URL           the catalog, for its counters at /.stack/stats (default http://127.0.0.1:3000)
  --edge-admin URL    the edge's admin listener, for its counters at /.tiercache/stats (default: the
                      edge counters the catalog's stats carry, as under tiercache start)
  --json              print the summary as JSON (format tiercache-loadgen/1) instead of text
  -h, --help          print this help
  -v, --version       print the tiercache version

A progress line is redrawn on stderr every second when stderr is a terminal. A counter source that
does not answer is named in the summary; the load runs anyway.

Exit codes: 0 the run finished (whatever the server answered), 1 it could not run, 2 a command
line to fix.
`

/** `tiercache loadgen`: load, then a summary. */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'loadgen',
    help: HELP,
    options: {
      target: { type: 'string' },
      'write-target': { type: 'string' },
      rate: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      keys: { type: 'string' },
      zipf: { type: 'string' },
      writes: { type: 'string' },
      timeout: { type: 'string' },
      seed: { type: 'string' },
      app: { type: 'string' },
      'edge-admin': { type: 'string' },
      json: { type: 'boolean' },
    },
  }, args)
  if (parsed === undefined) return 0
  const { values } = parsed
  let spec
  let sources
  try {
    sources = {
      app: httpUrl('--app', values.app ?? 'http://127.0.0.1:3000'),
      edgeAdmin: values['edge-admin'] === undefined ? undefined : httpUrl('--edge-admin', values['edge-admin']),
    }
    // Writes go to the catalog (--app) unless told otherwise: the edge forwards only reads on /api/*.
    spec = parseLoadOptions({ ...values, 'write-target': values['write-target'] ?? sources.app })
  } catch (error) {
    if (error instanceof LoadOptionError) throw new UsageError('loadgen', error.message)
    throw error
  }
  const [{ runLoad }, { snapshot, stackDelta }, { formatSummary, progressLine, summarize }] = await Promise.all([
    import('../../loadgen/run-load.js'), import('../../loadgen/stack-stats.js'), import('../../loadgen/summary.js')])

  const abort = new AbortController()
  const stop = (): void => { abort.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const tty = process.stderr.isTTY === true
  let lastCompleted = 0
  const onProgress = tty
    ? (p: LoadProgress): void => {
      process.stderr.write(`\r\x1b[2K${progressLine(p, spec.durationMs, lastCompleted)}`)
      lastCompleted = p.completed
    }
    : undefined
  try {
    const before = await snapshot(sources)
    const result = await runLoad(spec, { signal: abort.signal, ...(onProgress === undefined ? {} : { onProgress }) })
    if (tty) process.stderr.write('\r\x1b[2K')
    const after = await snapshot(sources)
    const summary = summarize(result, stackDelta(before, after, result.elapsedMs / 1000))
    process.stdout.write(values.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary))
    return abort.signal.aborted ? 130 : 0
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
