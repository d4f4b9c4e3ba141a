import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { CdnPurgeError, retryAfterMs, retryableStatus } from '../errors.js'

/** What the HTTP adapters (Varnish, nginx, Fastly) share: one request, its failures as {@link CdnPurgeError}. */
export interface HttpAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
}

/**
 * Sends one request with a deadline, on node:http rather than fetch: purging Varnish and nginx
 * needs the site's Host header, which fetch does not let a caller set. A connection failure or
 * timeout is retryable; an answer outside `ok` is retryable for 408/425/429/5xx (with the
 * provider's Retry-After), final otherwise.
 */
export function send(provider: string, url: string, init: { method: string; headers?: Record<string, string>; body?: string; timeoutMs: number },
  ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<HttpAnswer> {
  const target = new URL(url)
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest
  const where = `${init.method} ${target.origin}${target.pathname}`
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(target, { method: init.method, headers: { ...init.headers, ...(init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) }) }, timeout: init.timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (error) => { reject(new CdnPurgeError(provider, `${where}: ${error.message}`, { retryable: true, cause: error })) })
      res.on('end', () => {
        const status = res.statusCode ?? 0
        const body = Buffer.concat(chunks).toString('utf8')
        if (ok(status)) return resolve({ status, headers: res.headers, body })
        const wait = retryAfterMs(res.headers['retry-after'])
        reject(new CdnPurgeError(provider, `${where} answered ${status}${body === '' ? '' : `: ${body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200)}`}`,
          { retryable: retryableStatus(status), status, ...(wait === undefined ? {} : { retryAfterMs: wait }) }))
      })
    })
    req.on('timeout', () => { req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs}ms`), { code: 'ETIMEDOUT' })) })
    req.on('error', (error: Error & { code?: string }) => {
      reject(new CdnPurgeError(provider, `${where}: ${error.code ?? error.message}`, { retryable: true, cause: error }))
    })
    req.end(init.body)
  })
}

/** A base URL without its trailing slash. */
export function baseUrl(value: string): string {
  return value.replace(/\/+$/, '')
}

/** A response header's first value. */
export function header(answer: HttpAnswer, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value[0] : value
}
