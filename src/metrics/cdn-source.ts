import type { CdnPurgeRunnerStats } from '../cdn/runner.js'
import type { FollowerStats } from '../cdn/follower.js'
import type { Family, MetricSource, Sample } from './family.js'
import { snapshotOf } from './snapshot.js'

/**
 * The metric families of a CDN purge runner (`tiercache cdn-purger`), read from `runner.stats()`
 * when collected. Labelled by provider and purger name: a handful per runner, from its configuration.
 */
export function cdnSource(runner: { stats(): CdnPurgeRunnerStats }): MetricSource {
  const stats = snapshotOf(() => runner.stats())
  const per = (read: (s: FollowerStats) => number, extra: Record<string, string> = {}): Sample[] =>
    stats().purgers.map((s) => ({ labels: { provider: s.provider, purger: s.purger, ...extra }, value: read(s) }))
  const families: Family[] = [
    {
      name: 'tiercache_cdn_purges_total',
      help: 'CDN purge requests, by result: ok (accepted), retried (failed, sent again), dead_letter (given up and dead-lettered).',
      type: 'counter',
      read: () => [...per((s) => s.purged, { result: 'ok' }), ...per((s) => s.retries, { result: 'retried' }), ...per((s) => s.deadLettered, { result: 'dead_letter' })],
    },
    { name: 'tiercache_cdn_dead_letters', help: 'Purges in the dead-letter list (tiercache cdn-purger --dead-letters prints them).', type: 'gauge', read: () => per((s) => s.deadLetters) },
    { name: 'tiercache_cdn_messages_total', help: 'Invalidation messages read from the bus.', type: 'counter', read: () => per((s) => s.messages) },
    { name: 'tiercache_cdn_gaps_total', help: 'Times the bus lost messages this purger had not read (it purged everything, or dead-lettered the gap).', type: 'counter', read: () => per((s) => s.gaps) },
  ]
  return { kind: 'cdn', identity: 'cdn', families, close: () => {} }
}
