import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from '../ports/bus.js'

/**
 * An in-process bus: delivers synchronously-ordered messages to every subscriber of this object.
 * For single-process deployments and tests; several caches or edges created with the same
 * MemoryBus stay coherent with each other. It never loses messages, so it never reports a gap.
 */
export class MemoryBus implements InvalidationBus {
  readonly name = 'memory'
  readonly #listeners = new Set<BusListener>()
  #seq = 0
  #closed = false

  readonly #tagVersions = new Map<string, number>()

  publish(message: InvalidationMessage): Promise<PublishReceipt> {
    if (this.#closed) return Promise.reject(new Error('bus closed'))
    const id = String(++this.#seq)
    const tagVersions = message.tags?.map((tag) => {
      const version = (this.#tagVersions.get(tag) ?? 0) + 1
      this.#tagVersions.set(tag, version)
      return version
    })
    const delivered: DeliveredMessage = { ...message, ...(tagVersions === undefined ? {} : { tagVersions }), id }
    // Delivered on a microtask so a publisher is never re-entered from inside its own publish call.
    queueMicrotask(() => {
      for (const listener of this.#listeners) {
        try {
          listener.onMessage(delivered)
        } catch {
          // One faulty subscriber must not stop delivery to the others.
        }
      }
    })
    return Promise.resolve({ id, tagVersions })
  }

  tagVersions(tags: readonly string[]): Promise<number[]> {
    return Promise.resolve(tags.map((tag) => this.#tagVersions.get(tag) ?? 0))
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener)
    listener.onState?.('connected')
    return () => { this.#listeners.delete(listener) }
  }

  close(): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    return Promise.resolve()
  }
}
