/**
 * The randomized multi-process consistency run, short version: worker processes with
 * their own caches over one private Redis and a PostgreSQL table, random reads and writes, chaos
 * mid-run, and a checker that compares every layer of every process with the table at quiescent
 * points (test/consistency/). The long version is `npm run bench:consistency`.
 */
import { describe, expect, inject, it } from 'vitest'
import { describeStale, runConsistency } from '../consistency/orchestrator.js'
import type { RunOptions, RunResult } from '../consistency/orchestrator.js'

function failureReport(result: RunResult): string {
  return [`seed ${result.seed}, ${result.ops.total} ops, chaos ${result.chaos.map((c) => c.kind).join(', ')}`,
    ...describeStale(result), ...result.explanations, ...result.errorSamples].join('\n')
}

async function run(options: Omit<RunOptions, 'databaseUrl'>): Promise<RunResult> {
  return runConsistency({ databaseUrl: inject('databaseUrl'), workers: 3, opsPerWorker: 1_000, keys: 200, ...options })
}

/** What every run must show to mean anything: work done, chaos that hit, caches that held keys at the checks. */
function expectMeaningful(result: RunResult): void {
  expect(result.ops.errors, result.errorSamples.join('\n')).toBe(0)
  expect(result.ops.total).toBeGreaterThanOrEqual(3_000)
  expect(result.ops.writes).toBeGreaterThan(0)
  expect(result.quiesced).toBe(true)
  for (const { check } of result.checks) {
    expect(check.l1Held.every((n) => n > 0)).toBe(true)
    expect(check.l2Held).toBeGreaterThan(0)
  }
}

describe('randomized multi-process consistency', () => {
  it('the checker finds stale keys when coherence is off (bus: false, L1 on)', async () => {
    const result = await run({ bus: false, restarts: 0, kills: 0, busKills: 0 })
    expectMeaningful(result)
    // Nodes never hear each other's invalidations: their L1 copies of rewritten rows stay behind.
    expect(result.staleKeys).toBeGreaterThan(0)
    expect(result.check.stale.some((s) => s.layer === 'L1')).toBe(true)
    for (const s of result.check.stale) expect(s.cachedVersion).toBeLessThan(s.dbVersion)
  }, 120_000)

  // Bus followers killed by id (their blocked XREADs): each must resume from its cursor and replay
  // what it missed, or flush.
  it('leaves no stale key in any layer when bus connections are killed mid-run', async () => {
    const result = await run({ restarts: 0, kills: 0, busKills: 3, postCommitDelayMs: 5 })
    expectMeaningful(result)
    expect(result.chaos.map((c) => c.kind)).toEqual(['kill-bus', 'kill-bus', 'kill-bus'])
    expect(result.chaos.every((c) => c.killed > 0)).toBe(true)
    expect(result.checks).toHaveLength(4)
    expect(result.staleKeys, failureReport(result)).toBe(0)
  }, 120_000)

  // A rolling deploy: workers replaced mid-run by new processes whose caches work the moment they
  // exist (no warm-up), while the others keep writing. Every run starts cold this way too.
  it('leaves no stale key in any layer when workers are redeployed mid-run with cold caches', async () => {
    const result = await run({ restarts: 0, kills: 0, busKills: 0, redeploys: 2, postCommitDelayMs: 5 })
    expectMeaningful(result)
    expect(result.chaos.map((c) => c.kind)).toEqual(['redeploy', 'redeploy'])
    expect(result.staleKeys, failureReport(result)).toBe(0)
  }, 120_000)

  // Redis restarted and every connection killed mid-run, all four write methods. (It was red until
  // the three bugs in consistency-bugs.test.ts were fixed.)
  it('leaves no stale key in any layer with Redis restarted and connections killed mid-run', async () => {
    const result = await run({ restarts: 1, kills: 2, busKills: 1, postCommitDelayMs: 5 })
    expectMeaningful(result)
    expect(result.chaos.filter((c) => c.kind === 'restart')).toHaveLength(1)
    expect(result.chaos.filter((c) => c.kind === 'kill-all').every((c) => c.killed > 0)).toBe(true)
    // Every worker saw the restart as a gap in the stream and flushed its L1.
    expect(result.flushes.every((f) => f.length >= 1)).toBe(true)
    expect(result.staleKeys, failureReport(result)).toBe(0)
  }, 180_000)
})
