import { ClientError } from './client-errors.js'
import { CLIENT_MESSAGE_VERSION } from './messages.js'
import type { WorkerReply, WorkerRequest, WorkerStats } from './messages.js'

/** How long the page waits for the service worker's answer to a message, ms. */
const REPLY_TIMEOUT_MS = 5000

/**
 * Resolves once a service worker controls this page (at once when one does; after `clients.claim()`
 * of a newly installed worker otherwise); rejects after `timeoutMs`.
 */
export function whenControlled(timeoutMs = 10_000): Promise<ServiceWorker> {
  if (!('serviceWorker' in navigator)) return Promise.reject(new ClientError('E_UNSUPPORTED', 'this browser has no service workers (or the page is not a secure context)'))
  const current = navigator.serviceWorker.controller
  if (current !== null) return Promise.resolve(current)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      navigator.serviceWorker.removeEventListener('controllerchange', changed)
      reject(new ClientError('E_UNSUPPORTED', `no service worker took control of the page within ${timeoutMs} ms`))
    }, timeoutMs)
    function changed(): void {
      const controller = navigator.serviceWorker.controller
      if (controller === null) return
      clearTimeout(timer)
      navigator.serviceWorker.removeEventListener('controllerchange', changed)
      resolve(controller)
    }
    navigator.serviceWorker.addEventListener('controllerchange', changed)
  })
}

/**
 * Sends `request` to the worker controlling the page and resolves with its answer; undefined when
 * no worker controls the page (nothing is cached by one then, so there is nothing to drop).
 */
export function askWorker(request: WorkerRequest): Promise<WorkerReply | undefined> {
  const worker = 'serviceWorker' in navigator ? navigator.serviceWorker.controller : null
  if (worker === null) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const channel = new MessageChannel()
    const timer = setTimeout(() => {
      channel.port1.close()
      reject(new Error(`the service worker did not answer ${request.type} within ${REPLY_TIMEOUT_MS} ms`))
    }, REPLY_TIMEOUT_MS)
    channel.port1.onmessage = (event: MessageEvent<WorkerReply>) => {
      clearTimeout(timer)
      channel.port1.close()
      if (event.data.type === 'tiercache:error') reject(new Error(`the service worker failed: ${event.data.error}`))
      else resolve(event.data)
    }
    worker.postMessage(request, [channel.port2])
  })
}

/** Drops every response the worker keeps under one of `tags`; answers their URLs. */
export async function dropTagsInWorker(tags: readonly string[]): Promise<readonly string[]> {
  const reply = await askWorker({ type: 'tiercache:invalidate', v: CLIENT_MESSAGE_VERSION, tags })
  return reply?.type === 'tiercache:dropped' ? reply.urls : []
}

/** The worker's Cache Storage figures (bytes against the bound, entries, evictions), or undefined without a worker. */
export async function workerStats(): Promise<WorkerStats | undefined> {
  const reply = await askWorker({ type: 'tiercache:stats', v: CLIENT_MESSAGE_VERSION })
  return reply?.type === 'tiercache:stats' ? reply.stats : undefined
}
