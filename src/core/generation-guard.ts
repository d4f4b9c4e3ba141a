/**
 * The local fence against the fill/invalidate race inside one process: every invalidation bumps a
 * counter for its key (hashed into a fixed ring, so memory is bounded and no cleanup is needed), and
 * a fill that started before the bump does not write L1. A hash collision only costs a fill its L1
 * write, never correctness. `bumpAll` (flush, bus gap) invalidates every fill in flight.
 */
export class GenerationGuard {
  static readonly SLOTS = 4096
  readonly #slots = new Uint32Array(GenerationGuard.SLOTS)
  #epoch = 0

  /** A stamp to compare later with {@link GenerationGuard.changed}. */
  stamp(key: string): number {
    return this.#epoch * 0x1_0000_0000 + (this.#slots[slot(key)] as number)
  }

  /** True when `key` (or everything) was invalidated since `stamp` was taken. */
  changed(key: string, stamp: number): boolean {
    return this.stamp(key) !== stamp
  }

  bump(key: string): void {
    const i = slot(key)
    this.#slots[i] = ((this.#slots[i] as number) + 1) >>> 0
  }

  bumpAll(): void {
    this.#epoch++
  }
}

/** FNV-1a over UTF-16 units, folded into the ring. */
function slot(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0) & (GenerationGuard.SLOTS - 1)
}
