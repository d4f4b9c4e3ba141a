import { computePlan, PlanInputError } from '../../plan/capacity-plan.js'
import { formatPlan } from '../../plan/format-plan.js'
import { MEASURED } from '../../plan/measured.js'
import { parsePlanOptions } from '../../plan/plan-input.js'
import { parseCommandLine } from '../parse-command-line.js'
import { UsageError } from '../usage-error.js'

const HELP = `usage: tiercache plan --rps N --items N (--hit-ratio H | --zipf S --cache-items N) [--item-bytes 1KiB] [--write-rate N] [--json]

Sizes a deployment from a traffic profile: origin misses and database queries per second, L1 and
Redis memory, evictions, and the fleet (edge cores, app cores, Redis shards) from per-core
throughputs measured by this repository's benchmarks. Every figure is printed with its formula.

options:
  --rps N               requests per second at the edge, writes included (suffixes k, M, G: 1M)
  --items N             distinct items (products, pages)
  --hit-ratio H         share of reads answered without the database: 0.95 or 95%
  --zipf S              or: the popularity skew (key k drawn with weight 1/k^S) and
  --cache-items N       the items Redis holds: the hit ratio is then an ideal LFU's on that Zipf key
                        space, an upper bound (real caches see drift, expiry and invalidation)
  --item-bytes B        bytes of one cached value: 1024, 1KB (1000) or 1KiB (default 1024)
  --write-rate N        writes per second (default 0)
  --key-bytes B         bytes of a key (default 24)
  --l1-mb N             L1 budget per app process in MiB (default 64, tiercache's default)
  --edge-hit-ratio H    share of reads the edge answers (default 0: app cores sized as if every read
                        reached the app)
  --redis-shard-gb N    memory one Redis shard may use, GiB (default 25)
  --edge-rps-per-core N, --app-rps-per-core N, --redis-ops-per-core N
                        per-core throughputs measured on your machines (default: this repository's
                        measurements, named in the output)
  --json                print the plan as JSON (format tiercache-plan/1)
  -h, --help            print this help
  -v, --version         print the tiercache version
`

/** `tiercache plan`: the capacity model, printed with its formulas. */
export function run(args: string[]): Promise<number> {
  const parsed = parseCommandLine({
    command: 'plan',
    help: HELP,
    options: {
      rps: { type: 'string' },
      'hit-ratio': { type: 'string' },
      zipf: { type: 'string' },
      'cache-items': { type: 'string' },
      items: { type: 'string' },
      'item-bytes': { type: 'string' },
      'write-rate': { type: 'string' },
      'key-bytes': { type: 'string' },
      'l1-mb': { type: 'string' },
      'edge-hit-ratio': { type: 'string' },
      'redis-shard-gb': { type: 'string' },
      'edge-rps-per-core': { type: 'string' },
      'app-rps-per-core': { type: 'string' },
      'redis-ops-per-core': { type: 'string' },
      json: { type: 'boolean' },
    },
  }, args)
  if (parsed === undefined) return Promise.resolve(0)
  const { json, ...values } = parsed.values
  let planned
  try {
    const { input, measured } = parsePlanOptions(values)
    planned = { input, measured, plan: computePlan(input, measured) }
  } catch (error) {
    if (error instanceof PlanInputError) throw new UsageError('plan', error.message)
    throw error
  }
  const { input, measured, plan } = planned
  process.stdout.write(json === true
    ? `${JSON.stringify({ format: 'tiercache-plan/1', input, measured, sources: MEASURED.sources, plan }, null, 2)}\n`
    : formatPlan(plan, measured))
  return Promise.resolve(0)
}
