/**
 * The per-core throughputs and per-entry overheads `tiercache plan` sizes a fleet with. Each is a
 * measurement on this repository's benchmark machine (2 shared cores, Node 20, Redis 7.0), with the
 * command that produced it; BENCHMARKS.md has the runs. Other machines differ: run the commands
 * there and pass the figures with the plan's options.
 */
export interface MeasuredFigures {
  /** Edge cache hits one core serves per second. */
  readonly edgeRequestsPerCore: number
  /** Catalog requests one app core answers per second (reads served from L1). */
  readonly appRequestsPerCore: number
  /** tiercache L2 reads one Redis core answers per second. */
  readonly redisReadsPerCore: number
  /** Bytes an L1 entry costs beyond its key and value (W-TinyLFU store at 100,000 entries). */
  readonly l1OverheadBytes: number
  /** Bytes a Redis entry costs beyond its value's JSON (key, envelope, expiry, Redis's structures). */
  readonly redisOverheadBytes: number
}

export const MEASURED: MeasuredFigures & { readonly sources: Record<keyof MeasuredFigures, string> } = {
  edgeRequestsPerCore: 47_000,
  appRequestsPerCore: 8_400,
  redisReadsPerCore: 688_000,
  l1OverheadBytes: 107,
  redisOverheadBytes: 484,
  sources: {
    edgeRequestsPerCore: 'npm run bench:edge: 21.1 µs of CPU per cache hit (median of 11 rounds) = 47,000 hits per core-second',
    appRequestsPerCore: 'npm run bench:stack: the catalog alone at its maximum rate (81% L1 hits, the rest PostgreSQL), 8,400 requests per CPU-second of its process',
    redisReadsPerCore: 'npm run bench:redis:overhead: 1.45 µs of Redis CPU per tiercache L2 read (1 KB values, 64 callers) = 688,000 reads per Redis core-second',
    l1OverheadBytes: 'npm run bench:l1:memory: 107 bytes per entry for the W-TinyLFU store at 100,000 entries',
    redisOverheadBytes: 'npm run bench:redis:overhead: 1,505 bytes per catalog entry of 1,021 bytes of JSON in Redis 7.0 = 484 bytes beyond the value',
  },
}
