import { checkRequest } from '../errors.js'
import type { CdnPurger, PurgeCapabilities, PurgeLimits, PurgeOutcome, PurgeRequest } from '../purger.js'
import { baseUrl, send } from './http.js'

export interface NginxPurgerOptions {
  /** The purge server of the shipped configuration (deploy/nginx/tiercache.conf), e.g. `http://127.0.0.1:8082`. */
  readonly purgeUrl: string
  /** Host header of the cached site: part of the cache key (`$host$request_uri`). */
  readonly host: string
  readonly name?: string | undefined
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
  readonly timeoutMs?: number | undefined
}

/**
 * nginx proxy_cache with ngx_cache_purge: one cache key per request (`GET /path` on the purge
 * server, with the site's Host). nginx has no tags and Debian's module build no wildcard, so tags
 * reach nginx as the URLs the runner's templates give them, and prefixes or a full purge are
 * refused (the runner dead-letters them). 404 means "not cached": purged as far as nginx goes.
 */
export class NginxPurger implements CdnPurger {
  readonly provider = 'nginx'
  readonly name: string
  readonly capabilities: PurgeCapabilities = { kinds: ['urls'], soft: [] }
  readonly limits: PurgeLimits
  readonly #url: string
  readonly #host: string
  readonly #timeoutMs: number

  constructor(options: NginxPurgerOptions) {
    this.#url = baseUrl(options.purgeUrl)
    this.#host = options.host
    this.name = options.name ?? 'nginx'
    this.#timeoutMs = options.timeoutMs ?? 5_000
    this.limits = {
      itemsPerRequest: { tags: 1, urls: 1, prefixes: 1 },
      requestsPerSecond: options.requestsPerSecond ?? 1_000,
      burst: options.burst ?? 100,
    }
  }

  async purge(request: PurgeRequest): Promise<PurgeOutcome> {
    checkRequest(this, request)
    const answer = await send(this.name, `${this.#url}${request.items[0]!}`, { method: 'GET', headers: { host: this.#host }, timeoutMs: this.#timeoutMs },
      (status) => status === 200 || status === 404)
    return { purged: answer.status === 200 ? 1 : 0 }
  }

  async close(): Promise<void> {}
}
