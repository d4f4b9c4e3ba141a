import { CdnPurgeError, retryAfterMs, retryableStatus } from '../errors.js'

/** What the HTTP adapters (Varnish, nginx, Fastly) share: one request, its failures as {@link CdnPurgeError}. */
export interface HttpAnswer {
  readonly status: number
  readonly headers: Headers
  readonly body: string
}

/**
 * Sends one request with a deadline. A connection failure or timeout is retryable; an answer
 * outside `ok` is retryable for 408/425/429/5xx (with the provider's Retry-After), final otherwise.
 */
export async function send(provider: string, url: string, init: { method: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
  ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<HttpAnswer> {
  let response: Response
  try {
    response = await fetch(url, { method: init.method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(init.timeoutMs), redirect: 'manual' })
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${init.timeoutMs}ms` : describeFetchError(error)
    throw new CdnPurgeError(provider, `${init.method} ${redact(url)}: ${reason}`, { retryable: true, cause: error })
  }
  const body = await response.text().catch(() => '')
  if (!ok(response.status)) {
    const wait = retryAfterMs(response.headers.get('retry-after'))
    throw new CdnPurgeError(provider, `${init.method} ${redact(url)} answered ${response.status}${body === '' ? '' : `: ${body.replace(/\s+/g, ' ').slice(0, 200)}`}`,
      { retryable: retryableStatus(response.status), status: response.status, ...(wait === undefined ? {} : { retryAfterMs: wait }) })
  }
  return { status: response.status, headers: response.headers, body }
}

/** fetch reports "fetch failed" and hides the cause (ECONNREFUSED...) one level down. */
function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

/** A URL without credentials, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//')
}

/** Requires an http(s) URL and returns it without a trailing slash. */
export function baseUrl(value: string): string {
  return value.replace(/\/+$/, '')
}
