import type { PurgeSelector } from './edge-storage.js'

/** Most selector items (tags + URLs + prefixes) merged into one batch. */
export const MAX_BATCH_ITEMS = 500
/**
 * Shortest time between the starts of two batches, ms. A lone purge is applied at once; during a
 * flood, the purges of each interval are merged, so a prefix purge walks the URL index once per
 * batch, not once per purge. Real time on purpose: this paces CPU work, it is not cache semantics.
 */
export const BATCH_INTERVAL_MS = 10

interface Pending {
  readonly selector: PurgeSelector
  readonly soft: boolean
  readonly resolve: (entries: number) => void
  readonly reject: (error: unknown) => void
}

/** Applies one merged purge; `count` is how many purges it stands for. */
export type ApplyBatch = (selector: PurgeSelector, soft: boolean, count: number) => Promise<number>

/**
 * Purges are applied off the request path, in batches: a purge waits for the next turn of the event
 * loop (or, during a flood, the end of {@link BATCH_INTERVAL_MS} since the last batch), where every
 * purge that arrived meanwhile is merged into one selector per kind (hard, soft) and applied at
 * once. Between batches the loop is yielded, so cache hits keep being served during a purge flood
 * instead of queueing behind it. Each purge resolves with the entries its batch
 * changed (a purge cannot tell its own entries apart from those of the purges it was merged with).
 */
export class PurgeQueue {
  readonly #apply: ApplyBatch
  #pending: Pending[] = []
  #scheduled = false
  #running = false
  #lastStart = Number.NEGATIVE_INFINITY

  constructor(apply: ApplyBatch) {
    this.#apply = apply
  }

  submit(selector: PurgeSelector, soft: boolean): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ selector, soft, resolve, reject })
      this.#schedule()
    })
  }

  #schedule(): void {
    if (this.#scheduled || this.#running) return
    this.#scheduled = true
    const run = (): void => {
      this.#scheduled = false
      void this.#flush()
    }
    const wait = this.#lastStart + BATCH_INTERVAL_MS - performance.now()
    if (wait > 0) setTimeout(run, wait)
    else setImmediate(run)
  }

  async #flush(): Promise<void> {
    this.#running = true
    this.#lastStart = performance.now()
    try {
      const batch = this.#take()
      for (const soft of [false, true]) {
        const members = batch.filter((p) => p.soft === soft)
        if (members.length === 0) continue
        try {
          const entries = await this.#apply(merge(members.map((m) => m.selector)), soft, members.length)
          for (const m of members) m.resolve(entries)
        } catch (error) {
          for (const m of members) m.reject(error)
        }
      }
    } finally {
      this.#running = false
      if (this.#pending.length > 0) this.#schedule()
    }
  }

  /** The oldest purges, up to {@link MAX_BATCH_ITEMS} selector items (at least one purge). */
  #take(): Pending[] {
    let items = 0
    let n = 0
    while (n < this.#pending.length) {
      const s = (this.#pending[n] as Pending).selector
      const size = (s.tags?.length ?? 0) + (s.urls?.length ?? 0) + (s.prefixes?.length ?? 0)
      if (n > 0 && items + size > MAX_BATCH_ITEMS) break
      items += size
      n++
    }
    return this.#pending.splice(0, n)
  }
}

function merge(selectors: readonly PurgeSelector[]): PurgeSelector {
  if (selectors.length === 1) return selectors[0] as PurgeSelector
  const tags = new Set<string>()
  const urls = new Set<string>()
  const prefixes = new Set<string>()
  let all = false
  for (const s of selectors) {
    for (const t of s.tags ?? []) tags.add(t)
    for (const u of s.urls ?? []) urls.add(u)
    for (const p of s.prefixes ?? []) prefixes.add(p)
    if (s.all === true) all = true
  }
  return { tags: [...tags], urls: [...urls], prefixes: [...prefixes], all }
}
