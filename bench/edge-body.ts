/** The benchmark's 1 KB response: a JSON-ish text body and the origin's headers. */
export const BENCH_BODY: Buffer = Buffer.from(JSON.stringify({
  id: 42,
  name: 'tiercache benchmark item',
  description: 'x'.repeat(900),
}).padEnd(1024, ' ').slice(0, 1024))

/** Flat header list the origin sends (and the bare server repeats). */
export const BENCH_HEADERS: readonly string[] = ['content-type', 'application/json', 'cache-control', 'public, max-age=3600']
