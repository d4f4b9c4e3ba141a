import type { Plan, PlanFigure } from './capacity-plan.js'
import type { MeasuredFigures } from './measured.js'
import { MEASURED } from './measured.js'

const n = (x: number): string => Math.round(x).toLocaleString('en-US')
const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GiB`
const mib = (b: number): string => `${(b / 1024 ** 2).toFixed(1)} MiB`

/** The plan as text: each figure, then its formula. */
export function formatPlan(plan: Plan, measured: MeasuredFigures): string {
  const row = (name: string, shown: string, figure: PlanFigure): string[] => [`  ${name.padEnd(26)} ${shown}`, `  ${''.padEnd(26)}   = ${figure.formula}`]
  const custom = (key: keyof MeasuredFigures): string => (measured[key] === MEASURED[key] ? MEASURED.sources[key] : 'given on the command line')
  return [
    'tiercache plan',
    '',
    'traffic',
    ...row('hit ratio', `${(plan.hitRatio.value * 100).toFixed(2)}%${plan.hitRatio.upperBound ? ' (upper bound)' : ''}`, plan.hitRatio),
    ...row('reads', `${n(plan.reads.value)}/s`, plan.reads),
    ...row('origin misses', `${n(plan.originMisses.value)}/s`, plan.originMisses),
    ...row('database queries', `${n(plan.databaseQueries.value)}/s`, plan.databaseQueries),
    '',
    'memory',
    ...row('L1 entries per process', n(plan.l1EntriesPerProcess.value), plan.l1EntriesPerProcess),
    ...row('L1 memory per process', mib(plan.l1BytesPerProcess.value), plan.l1BytesPerProcess),
    ...row('L1 hit ratio', `${(plan.l1HitRatio.value * 100).toFixed(2)}%`, plan.l1HitRatio),
    ...row('Redis entries', n(plan.redisEntries.value), plan.redisEntries),
    ...row('Redis memory', gib(plan.redisBytes.value), plan.redisBytes),
    ...row('Redis evictions', `${n(plan.redisEvictions.value)}/s`, plan.redisEvictions),
    ...row('L1 evictions', `${n(plan.l1Evictions.value)}${plan.l1Evictions.unit}`, plan.l1Evictions),
    '',
    'fleet',
    ...row('app requests', `${n(plan.appRequests.value)}/s`, plan.appRequests),
    ...row('Redis operations', `${n(plan.redisOps.value)}/s`, plan.redisOps),
    ...row('edge cores', n(plan.edgeCores.value), plan.edgeCores),
    ...row('app cores', n(plan.appCores.value), plan.appCores),
    ...row('Redis shards', n(plan.redisShards.value), plan.redisShards),
    '',
    'per-core figures used (measured on a shared 2-core machine; run the benchmarks on yours and pass',
    '--edge-rps-per-core, --app-rps-per-core, --redis-ops-per-core):',
    `  edge   ${n(measured.edgeRequestsPerCore)}/s per core: ${custom('edgeRequestsPerCore')}`,
    `  app    ${n(measured.appRequestsPerCore)}/s per core: ${custom('appRequestsPerCore')}`,
    `  Redis  ${n(measured.redisReadsPerCore)}/s per core: ${custom('redisReadsPerCore')}`,
    `  L1     ${measured.l1OverheadBytes} B per entry: ${MEASURED.sources.l1OverheadBytes}`,
    `  Redis  ${measured.redisOverheadBytes} B per entry: ${MEASURED.sources.redisOverheadBytes}`,
    '',
  ].join('\n')
}
