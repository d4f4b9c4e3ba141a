import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage } from '../ports/bus.js'

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

  publish(message: InvalidationMessage): Promise<string> {
    if (this.#closed) return Promise.reject(new Error('bus closed'))
    const id = String(++this.#seq)
    const delivered: DeliveredMessage = { ...message, id }
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
    return Promise.resolve(id)
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
