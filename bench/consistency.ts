/**
 * `npm run bench:consistency`: the long randomized multi-process consistency run.
 * N worker processes, each with its own cache (L1 + the same private Redis), run random reads and
 * writes over a PostgreSQL table while Redis is restarted and connections are killed; afterwards a
 * checker compares every layer of every process with the table (test/consistency/).
 *
 * Prints, per run and as median and spread (min..max) across runs:
 * - stale keys left in any layer after quiescence (target 0);
 * - stale reads (started after a newer write's invalidation completed, returned an older version)
 *   and the stale-window distribution (commit -> last read of an older version);
 * - propagation latency (publish on node A -> L1 dropped on node B), all messages and outside the
 *   chaos spans (a reconnecting follower replays what it missed: those samples measure recovery),
 *   next to its limit measured at the same time: a bare XADD -> blocking XREAD between two processes
 *   on the same Redis (the machine's own scheduling delay is in both).
 *
 *   npm run bench:consistency -- [--runs 3] [--workers 5] [--ops 4000] [--keys 300] [--lanes 4]
 *     [--restarts 2] [--kills 3] [--bus-kills 3] [--redeploys 2] [--warm] [--down-ms 500] [--post-commit-delay 5] [--pace 0] [--l2-timeout MS]
 *     [--methods delete,invalidate,tags,set] [--mix-strategies] [--no-checkpoints] [--no-probe] [--seed N] [--no-bus] [--json]
 *
 * Workers start cold (they work the moment their cache exists, before its bus has synced);
 * --warm waits for the bus first. --redeploys replaces workers mid-run the same way (a rolling deploy).
 *
 * Odd keys are write-through keys (set, versioned invalidate), even keys cache-aside keys (delete,
 * invalidate, tags); --mix-strategies lets any method hit any key, which includes a race no cache
 * can order (a versioned set landing after an unversioned delete of a newer commit).
 *
 * DATABASE_URL selects PostgreSQL (default: the local test database, else a private server).
 * Exits 1 when any run leaves a stale key.
 */
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { runConsistency } from '../test/consistency/orchestrator.js'
import type { RunResult } from '../test/consistency/orchestrator.js'
import { WRITE_METHODS } from '../test/consistency/protocol.js'
import type { WriteMethod } from '../test/consistency/protocol.js'
import type { Distribution } from '../test/consistency/stale-windows.js'
import { ensurePostgres } from '../test/services/services.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    workers: { type: 'string', default: '5' },
    ops: { type: 'string', default: '4000' },
    keys: { type: 'string', default: '300' },
    lanes: { type: 'string', default: '4' },
    restarts: { type: 'string', default: '2' },
    kills: { type: 'string', default: '3' },
    'bus-kills': { type: 'string', default: '3' },
    redeploys: { type: 'string', default: '2' },
    warm: { type: 'boolean', default: false },
    'down-ms': { type: 'string', default: '500' },
    'post-commit-delay': { type: 'string', default: '5' },
    pace: { type: 'string', default: '0' },
    'l2-timeout': { type: 'string' },
    'no-probe': { type: 'boolean', default: false },
    'no-checkpoints': { type: 'boolean', default: false },
    'mix-strategies': { type: 'boolean', default: false },
    methods: { type: 'string', default: WRITE_METHODS.join(',') },
    seed: { type: 'string' },
    'no-bus': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})

const methods = values.methods.split(',').map((m) => m.trim()) as WriteMethod[]
for (const m of methods) {
  if (!WRITE_METHODS.includes(m)) throw new Error(`--methods: expected a list of ${WRITE_METHODS.join(', ')}, got "${m}"`)
}
const runs = Number(values.runs)

const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2))
const dist = (d: Distribution): string => `n=${d.count} p50 ${ms(d.p50)} ms, p99 ${ms(d.p99)} ms, max ${ms(d.max)} ms`
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}
const spread = (xs: number[], unit = ''): string =>
  xs.length === 1 ? `${ms(xs[0] as number)}${unit}` : `${ms(median(xs))}${unit} (${ms(Math.min(...xs))}..${ms(Math.max(...xs))})`

function printRun(i: number, r: RunResult): void {
  const s = r.staleness
  console.log(`\nrun ${i + 1}/${runs}: seed ${r.seed}, ${r.workers} workers, ${r.ops.total} ops (${r.ops.reads} getOrSet, ${r.ops.getMany} getMany, ${r.ops.writes} writes, ${r.ops.errors} errors) in ${(r.durationMs / 1000).toFixed(1)} s`)
  console.log(`  chaos: ${r.chaos.map((c) => (c.kind === 'restart' ? 'restart' : `${c.kind}(${c.killed})`)).join(', ')}; L1 flushes per worker: ${r.flushes.map((f) => f.length).join(', ')}`)
  console.log(`  quiescence: ${r.quiesced ? `${Math.round(r.quiescenceMs)} ms` : 'NOT REACHED'}`)
  console.log(`  STALE KEYS after quiescence: ${r.staleKeys} distinct (layer, node, key, version) over ${r.checks.length} checks; new per check: ` +
    `${r.checks.map((c, j) => `${c.label} ${r.newStalePerCheck[j]}`).join(', ')} (final check: L1 held ${r.check.l1Held.join('/')} keys, L2 ${r.check.l2Held} of ${r.check.keys})`)
  if (r.staleKeys > 0) console.log(`  likely causes: ${JSON.stringify(r.causes)} (test/integration/consistency-bugs.test.ts)`)
  for (const line of r.explanations.slice(0, 30)) console.log(`    ${line}`)
  console.log(`  stale reads: ${s.staleReads} of ${s.reads} (${s.staleReadsSteady} outside chaos; ${s.staleReadsFlagged} flagged stale) by source ${JSON.stringify(s.staleReadsBySource)} by method ${JSON.stringify(s.staleReadsByMethod)}`)
  console.log(`  stale read age (read start - invalidation done): ${dist(s.staleAge)}`)
  console.log(`  stale read age after a confirmed invalidation (writer's outbox empty): ${dist(s.staleAgeConfirmed)}`)
  for (const line of s.worstConfirmed.slice(0, 5)) console.log(`    ${line}`)
  console.log(`  stale window, all ${s.writes} writes: ${dist(s.windows)}`)
  console.log(`  stale window, writes with one: ${dist(s.nonZeroWindows)}; outside chaos: ${dist(s.nonZeroWindowsSteady)}`)
  for (const [m, d] of Object.entries(s.nonZeroWindowsByMethod)) console.log(`    ${m}: ${dist(d)}`)
  console.log(`  propagation, all: ${dist(r.propagation.all)}`)
  console.log(`  propagation, outside chaos: ${dist(r.propagation.steady)}`)
  console.log(`  propagation, outside chaos, direct publishes (writer's outbox empty): ${dist(r.propagation.direct)}`)
  if (r.probe !== undefined) console.log(`  limit: bare XADD -> XREAD between two processes, same Redis, same time: ${dist(r.probe.raw)}; send time truncated to ms like tiercache's: ${dist(r.probe.truncated)}`)
  if (r.errorSamples.length > 0) console.log(`  first error: ${r.errorSamples[0]}`)
}

async function main(): Promise<void> {
  const postgres = await ensurePostgres()
  const results: RunResult[] = []
  try {
    console.log(`bench:consistency on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), shared with other work: timings are noisy`)
    console.log(`${runs} runs x ${values.workers} workers x >= ${values.ops} ops, ${values.keys} keys, ${values.lanes} lanes each, ` +
      `${values.restarts} Redis restarts (${values['down-ms']} ms down), ${values.kills} CLIENT KILL TYPE normal , ${values['bus-kills']} bus-follower kills and ${values.redeploys} redeploys per run, ${values.warm ? 'warm' : 'cold'} start, methods ${methods.join(',')}${values['mix-strategies'] ? ' (mixed on every key)' : ' (write-through on odd keys, cache-aside on even keys)'}${values['no-bus'] ? ', NO BUS' : ''}`)
    for (let i = 0; i < runs; i++) {
      const result = await runConsistency({
        databaseUrl: postgres.url,
        workers: Number(values.workers),
        opsPerWorker: Number(values.ops),
        keys: Number(values.keys),
        lanes: Number(values.lanes),
        restarts: Number(values.restarts),
        kills: Number(values.kills),
        busKills: Number(values['bus-kills']),
        redeploys: Number(values.redeploys),
        coldStart: !values.warm,
        downMs: Number(values['down-ms']),
        postCommitDelayMs: Number(values['post-commit-delay']),
        paceMs: Number(values.pace),
        ...(values['l2-timeout'] === undefined ? {} : { l2TimeoutMs: Number(values['l2-timeout']) }),
        checkpoints: !values['no-checkpoints'],
        mixStrategies: values['mix-strategies'],
        probe: !values['no-probe'],
        methods,
        bus: !values['no-bus'],
        ...(values.seed === undefined ? {} : { seed: Number(values.seed) + i }),
        log: (line) => { if (!values.json) console.log(`  . ${line}`) },
      })
      results.push(result)
      if (!values.json) printRun(i, result)
    }
  } finally {
    await postgres.stop()
  }
  if (values.json) {
    console.log(JSON.stringify(results.map((r) => ({ ...r, stats: undefined })), null, 2))
  } else {
    const pick = (f: (r: RunResult) => number): number[] => results.map(f)
    console.log(`\nsummary over ${results.length} runs: median (min..max)`)
    console.log(`  stale keys after quiescence: ${pick((r) => r.staleKeys).join(', ')}  (target 0); likely causes: ${results.map((r) => JSON.stringify(r.causes)).join(', ')}`)
    console.log(`  stale reads after invalidation: ${spread(pick((r) => r.staleness.staleReads))}, outside chaos ${spread(pick((r) => r.staleness.staleReadsSteady))}`)
    console.log(`  stale window (writes with one) p50 ${spread(pick((r) => r.staleness.nonZeroWindows.p50), ' ms')}, p99 ${spread(pick((r) => r.staleness.nonZeroWindows.p99), ' ms')}, max ${spread(pick((r) => r.staleness.nonZeroWindows.max), ' ms')}`)
    console.log(`  stale window outside chaos p50 ${spread(pick((r) => r.staleness.nonZeroWindowsSteady.p50), ' ms')}, p99 ${spread(pick((r) => r.staleness.nonZeroWindowsSteady.p99), ' ms')}, max ${spread(pick((r) => r.staleness.nonZeroWindowsSteady.max), ' ms')}`)
    console.log(`  propagation all p50 ${spread(pick((r) => r.propagation.all.p50), ' ms')}, p99 ${spread(pick((r) => r.propagation.all.p99), ' ms')}, max ${spread(pick((r) => r.propagation.all.max), ' ms')}`)
    console.log(`  propagation outside chaos p50 ${spread(pick((r) => r.propagation.steady.p50), ' ms')}, p99 ${spread(pick((r) => r.propagation.steady.p99), ' ms')}, max ${spread(pick((r) => r.propagation.steady.max), ' ms')}`)
    console.log(`  propagation outside chaos, direct p50 ${spread(pick((r) => r.propagation.direct.p50), ' ms')}, p99 ${spread(pick((r) => r.propagation.direct.p99), ' ms')}, max ${spread(pick((r) => r.propagation.direct.max), ' ms')}  (target p99 <= 10 ms)`)
    const probed = results.filter((r) => r.probe !== undefined).map((r) => r.probe as NonNullable<RunResult['probe']>)
    if (probed.length > 0) {
      const p = (f: (x: (typeof probed)[number]) => number): number[] => probed.map(f)
      console.log(`  limit, bare XADD -> XREAD (ms-truncated send time) p50 ${spread(p((x) => x.truncated.p50), ' ms')}, p99 ${spread(p((x) => x.truncated.p99), ' ms')}, max ${spread(p((x) => x.truncated.max), ' ms')}`)
      console.log(`  limit, bare XADD -> XREAD (exact) p50 ${spread(p((x) => x.raw.p50), ' ms')}, p99 ${spread(p((x) => x.raw.p99), ' ms')}, max ${spread(p((x) => x.raw.max), ' ms')}`)
      console.log(`  tiercache / limit (direct vs truncated), p50 ${spread(results.map((r, i) => r.propagation.direct.p50 / ((probed[i]?.truncated.p50) ?? Number.NaN)), 'x')}, p99 ${spread(results.map((r, i) => r.propagation.direct.p99 / ((probed[i]?.truncated.p99) ?? Number.NaN)), 'x')}`)
    }
  }
  if (results.some((r) => r.staleKeys > 0)) process.exitCode = 1
}

await main()
