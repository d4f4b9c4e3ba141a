import { PurgeError } from './errors.js'

/** Options of {@link purgeRemote}. */
export interface PurgeRemoteOptions {
  /** Base URL of an edge: `http://127.0.0.1:8080`. */
  readonly edge: string
  readonly token: string
  readonly tags?: readonly string[]
  readonly urls?: readonly string[]
  readonly prefixes?: readonly string[]
  readonly soft?: boolean
  /** Purge endpoint path prefix of that edge. Default `'/.tiercache/'`. */
  readonly adminPrefix?: string
  /** Give up after this long (ms). Default 10 s. */
  readonly timeoutMs?: number
}

/**
 * Asks an edge to purge (it applies the purge and publishes it on the bus, so every edge and app
 * cache follows). Throws {@link PurgeError}: `E_PURGE_UNAUTHORIZED`, `E_PURGE_INVALID`, `E_PURGE_TOO_LARGE`,
 * `E_PURGE_RATE_LIMITED`, `E_PURGE_FAILED`.
 */
export async function purgeRemote(options: PurgeRemoteOptions): Promise<{ entries: number; published: boolean; id: string }> {
  const url = new URL(`${options.adminPrefix ?? '/.tiercache/'}purge`, options.edge)
  const body = JSON.stringify({
    ...(options.tags === undefined ? {} : { tags: options.tags }),
    ...(options.urls === undefined ? {} : { urls: options.urls }),
    ...(options.prefixes === undefined ? {} : { prefixes: options.prefixes }),
    soft: options.soft === true,
  })
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    })
  } catch (error) {
    throw new PurgeError('E_PURGE_FAILED', `cannot reach ${url.origin}: ${(error as Error).message}`, { edge: url.origin }, error)
  }
  const text = await response.text()
  if (response.status === 401) throw new PurgeError('E_PURGE_UNAUTHORIZED', `${url.origin} refused the purge token`, { edge: url.origin })
  if (response.status === 400) throw new PurgeError('E_PURGE_INVALID', `${url.origin} refused the purge: ${text.trim().slice(0, 200)}`, { edge: url.origin })
  if (response.status === 413) throw new PurgeError('E_PURGE_TOO_LARGE', `${url.origin} refused the purge as too large; split it`, { edge: url.origin })
  if (response.status === 429) {
    throw new PurgeError('E_PURGE_RATE_LIMITED', `${url.origin} is rate-limiting purges; retry in ${response.headers.get('retry-after') ?? '1'} s`,
      { edge: url.origin, retryAfter: Number(response.headers.get('retry-after') ?? 1) })
  }
  if (response.status !== 200) throw new PurgeError('E_PURGE_FAILED', `${url.origin} answered ${response.status}: ${text.trim().slice(0, 200)}`, { edge: url.origin })
  return JSON.parse(text) as { entries: number; published: boolean; id: string }
}
