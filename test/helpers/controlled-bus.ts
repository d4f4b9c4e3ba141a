import { MemoryBus } from '../../src/bus/memory-bus.js'
import type { BusListener, InvalidationBus, InvalidationMessage, PublishReceipt } from '../../src/ports/bus.js'

/**
 * A real MemoryBus with the failures of a network bus on demand: publish can fail, and the test can
 * report a disconnect, a reconnect or a gap to every subscriber, as the Redis bus would.
 */
export class ControlledBus implements InvalidationBus {
  readonly name = 'controlled'
  readonly inner = new MemoryBus()
  failPublish = false
  published = 0
  readonly #listeners = new Set<BusListener>()

  publish(message: InvalidationMessage): Promise<PublishReceipt> {
    if (this.failPublish) return Promise.reject(new Error('bus down'))
    this.published++
    return this.inner.publish(message)
  }

  tagVersions(tags: readonly string[]): Promise<number[]> {
    return this.inner.tagVersions(tags)
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener)
    const off = this.inner.subscribe(listener)
    return () => {
      this.#listeners.delete(listener)
      off()
    }
  }

  disconnect(): void {
    for (const l of this.#listeners) l.onState?.('disconnected')
  }

  reconnect(): void {
    for (const l of this.#listeners) l.onState?.('connected')
  }

  gap(reason = 'test gap'): void {
    for (const l of this.#listeners) l.onGap(reason)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
