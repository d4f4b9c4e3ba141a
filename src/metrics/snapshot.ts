/**
 * One `stats()` call per collection: the families read in the same synchronous pass share a
 * snapshot (so a hit ratio computed from one scrape is consistent), forgotten at the next microtask.
 */
export function snapshotOf<T>(read: () => T): () => T {
  let snapshot: { value: T } | undefined
  return () => {
    if (snapshot === undefined) {
      snapshot = { value: read() }
      queueMicrotask(() => { snapshot = undefined })
    }
    return snapshot.value
  }
}
