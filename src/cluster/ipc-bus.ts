import { MemoryBus } from '../bus/memory-bus.js'
import type { BusListener, DeliveredMessage, InvalidationBus, InvalidationMessage, PublishReceipt } from '../ports/bus.js'
import type { Rpc } from './rpc.js'
import type { WorkerPool } from './worker-pool.js'

/**
 * The invalidation bus of a cluster without Redis: the primary holds the stream (a {@link MemoryBus},
 * which numbers messages and versions tags) and relays every message to every worker over IPC, in
 * publish order. A purge through any worker, and every change capture publishes in the primary,
 * reaches every worker's edge and L1. One machine only; Redis Streams is the bus across machines.
 */
export function relayBus(pool: WorkerPool): { bus: MemoryBus; handlers: Record<string, (payload: unknown) => unknown> } {
  const bus = new MemoryBus()
  bus.subscribe({ onMessage: (message) => pool.broadcast('bus.message', message), onGap: () => {} })
  return {
    bus,
    handlers: {
      'bus.publish': (payload) => bus.publish(payload as InvalidationMessage),
      'bus.tagVersions': (payload) => bus.tagVersions(payload as string[]),
    },
  }
}

/** A worker's end of {@link relayBus}. */
export class WorkerBus implements InvalidationBus {
  readonly name = 'memory'
  readonly #rpc: Rpc
  readonly #listeners = new Set<BusListener>()

  constructor(rpc: Rpc) {
    this.#rpc = rpc
    rpc.on('bus.message', (message) => {
      for (const listener of this.#listeners) {
        try {
          listener.onMessage(message as DeliveredMessage)
        } catch {
          // One faulty subscriber must not stop delivery to the others.
        }
      }
    })
  }

  publish(message: InvalidationMessage): Promise<PublishReceipt> {
    return this.#rpc.request<PublishReceipt>('bus.publish', message)
  }

  tagVersions(tags: readonly string[]): Promise<number[]> {
    return this.#rpc.request<number[]>('bus.tagVersions', [...tags])
  }

  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener)
    listener.onState?.('connected')
    return () => { this.#listeners.delete(listener) }
  }

  close(): Promise<void> {
    this.#listeners.clear()
    return Promise.resolve()
  }
}
