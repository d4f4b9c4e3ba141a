/**
 * Requests and events between the cluster's primary and its workers over the IPC channel that
 * node:cluster opens for each worker. One object per channel end, the same code on both sides.
 *
 * Wire format (version 1): `{ tiercache: 1, t: 'req', id, type, payload }`, answered by
 * `{ tiercache: 1, t: 'res', id, ok, value | error }`; `{ tiercache: 1, t: 'ev', type, payload }`
 * expects no answer. Payloads go through the channel's `advanced` serialization (structured
 * clone), so a bigint transaction id or a Date in a row arrives as itself. A message without the
 * version field is not ours and is ignored.
 */

export const RPC_FORMAT_VERSION = 1

type Wire =
  | { tiercache: 1; t: 'req'; id: number; type: string; payload: unknown }
  | { tiercache: 1; t: 'res'; id: number; ok: true; value: unknown }
  | { tiercache: 1; t: 'res'; id: number; ok: false; error: { message: string; code?: string } }
  | { tiercache: 1; t: 'ev'; type: string; payload: unknown }

/** An error answered by the other side: its message and code, as thrown there. */
export class RemoteError extends Error {
  readonly code: string | undefined
  constructor(message: string, code: string | undefined) {
    super(message)
    this.name = 'RemoteError'
    this.code = code
  }
}

export type RequestHandler = (payload: unknown) => unknown
export type EventHandler = (payload: unknown) => void

/** One end of an IPC channel: sends requests and events, answers the requests it has handlers for. */
export class Rpc {
  readonly #send: (message: Wire) => boolean
  readonly #handlers = new Map<string, RequestHandler>()
  readonly #events = new Map<string, EventHandler>()
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>()
  #next = 1
  #closed = false

  /** `send` writes one message to the channel (process.send, or worker.send). */
  constructor(send: (message: unknown) => boolean) {
    this.#send = send
  }

  handle(type: string, handler: RequestHandler): this {
    this.#handlers.set(type, handler)
    return this
  }

  on(type: string, handler: EventHandler): this {
    this.#events.set(type, handler)
    return this
  }

  request<T = unknown>(type: string, payload?: unknown): Promise<T> {
    if (this.#closed) return Promise.reject(new RemoteError('the other process is gone', 'E_WORKER_GONE'))
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#write({ tiercache: RPC_FORMAT_VERSION, t: 'req', id, type, payload })
    })
  }

  emit(type: string, payload?: unknown): void {
    if (!this.#closed) this.#write({ tiercache: RPC_FORMAT_VERSION, t: 'ev', type, payload })
  }

  /** Feed every message the channel receives here. */
  receive(message: unknown): void {
    if (typeof message !== 'object' || message === null || (message as { tiercache?: unknown }).tiercache !== RPC_FORMAT_VERSION) return
    const m = message as Wire
    if (m.t === 'ev') {
      this.#events.get(m.type)?.(m.payload)
    } else if (m.t === 'res') {
      const pending = this.#pending.get(m.id)
      if (pending === undefined) return
      this.#pending.delete(m.id)
      if (m.ok) pending.resolve(m.value)
      else pending.reject(new RemoteError(m.error.message, m.error.code))
    } else {
      void this.#answer(m.id, m.type, m.payload)
    }
  }

  /** The channel is gone: every request waiting for an answer fails. */
  close(): void {
    this.#closed = true
    for (const pending of this.#pending.values()) pending.reject(new RemoteError('the other process is gone', 'E_WORKER_GONE'))
    this.#pending.clear()
  }

  async #answer(id: number, type: string, payload: unknown): Promise<void> {
    const handler = this.#handlers.get(type)
    try {
      if (handler === undefined) throw Object.assign(new Error(`no handler for ${type}`), { code: 'E_RPC_UNKNOWN' })
      const value = await handler(payload)
      this.#write({ tiercache: RPC_FORMAT_VERSION, t: 'res', id, ok: true, value })
    } catch (error) {
      const e = error as { message?: unknown; code?: unknown }
      this.#write({
        tiercache: RPC_FORMAT_VERSION, t: 'res', id, ok: false,
        error: { message: typeof e.message === 'string' ? e.message : String(error), ...(typeof e.code === 'string' ? { code: e.code } : {}) },
      })
    }
  }

  #write(message: Wire): void {
    if (this.#closed) return
    try {
      this.#send(message)
    } catch {
      // The channel closed under us: the exit handler fails what is pending.
    }
  }
}
