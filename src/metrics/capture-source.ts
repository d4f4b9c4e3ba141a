import type { CaptureStats } from '../ports/capture.js'
import type { Family, MetricSource } from './family.js'
import { snapshotOf } from './snapshot.js'

/** What a capture source reads: `capture.stats()` of `startOutboxCapture` / `startLogicalCapture`. */
export interface CaptureStatsReader {
  stats(): CaptureStats
}

/**
 * The metric families of one change capture (an invalidator), read from `capture.stats()` when
 * collected. Lag and depth are gauges of the last step: the alert rules watch them over time.
 * Labelled by mode only: one invalidator per registry, as one runs per process.
 */
export function captureSource(capture: CaptureStatsReader): MetricSource {
  const stats = snapshotOf(() => capture.stats())
  const single = (name: string, help: string, read: (s: CaptureStats) => number, type: 'counter' | 'gauge' = 'counter', unit?: 'seconds'): Family => ({
    name, help, type, ...(unit === undefined ? {} : { unit }), read: () => { const s = stats(); return [{ labels: { mode: s.mode }, value: read(s) }] },
  })
  const families: Family[] = [
    single('tiercache_capture_changes_total', 'Committed changes published as invalidations.', (s) => s.published),
    single('tiercache_capture_messages_total', 'Invalidation messages published (changes are batched and deduplicated).', (s) => s.messages),
    single('tiercache_capture_errors_total', 'Failed polls or publishes (each retried).', (s) => s.errors),
    single('tiercache_capture_skipped_total', 'Changed rows that gave no valid key or tag (skipped and logged).', (s) => s.skipped),
    single('tiercache_capture_lag_seconds', 'Commit to published, of the newest batch.', (s) => s.lagMs / 1000, 'gauge', 'seconds'),
    single('tiercache_capture_max_lag_seconds', 'The largest commit to published lag since start.', (s) => s.maxLagMs / 1000, 'gauge', 'seconds'),
    single('tiercache_capture_outbox_depth', 'Changes waiting to be published, as of the last poll.', (s) => s.depth, 'gauge'),
    single('tiercache_capture_active', 'This invalidator holds the lease and works (1) or stands by (0).', (s) => (s.active ? 1 : 0), 'gauge'),
  ]
  return { kind: 'capture', identity: 'capture', families, close: () => {} }
}
