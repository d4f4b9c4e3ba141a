import { checkRequest } from '../errors.js'
import type { CdnPurger, PurgeCapabilities, PurgeLimits, PurgeOutcome, PurgeRequest } from '../purger.js'
import { baseUrl, send } from './http.js'

export interface FastlyPurgerOptions {
  readonly serviceId: string
  /** A Fastly API token with purge rights (sent as `Fastly-Key`). */
  readonly apiToken: string
  /** The site's host name, for URL purges (`POST /purge/<host><path>`). */
  readonly host: string
  /** API base. Default `https://api.fastly.com`. */
  readonly apiUrl?: string | undefined
  readonly name?: string | undefined
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
  readonly timeoutMs?: number | undefined
}

/** Fastly's documented batch limit for a surrogate-key purge. */
export const FASTLY_KEYS_PER_REQUEST = 256

/**
 * Fastly through its purge API, with plain `fetch`: the official `fastly` package passes
 * `https://api.fastly.com` on every call (its `basePath` setting is ignored by the purge calls),
 * keeps its credentials on a process-wide singleton and ships no types, so it could neither be
 * pointed at another endpoint nor hold two services' tokens in one process.
 *
 * - surrogate keys: `POST /service/<id>/purge` with `Surrogate-Key: k1 k2` (up to 256);
 * - one URL: `POST /purge/<host><path>`;
 * - everything: `POST /service/<id>/purge_all` (never soft: Fastly has no soft purge-all);
 * - soft: `Fastly-Soft-Purge: 1` on key and URL purges. No prefix purge.
 */
export class FastlyPurger implements CdnPurger {
  readonly provider = 'fastly'
  readonly name: string
  readonly capabilities: PurgeCapabilities = { kinds: ['tags', 'urls', 'all'], soft: ['tags', 'urls'] }
  readonly limits: PurgeLimits
  readonly #api: string
  readonly #serviceId: string
  readonly #token: string
  readonly #host: string
  readonly #timeoutMs: number

  constructor(options: FastlyPurgerOptions) {
    this.#api = baseUrl(options.apiUrl ?? 'https://api.fastly.com')
    this.#serviceId = options.serviceId
    this.#token = options.apiToken
    this.#host = options.host
    this.name = options.name ?? 'fastly'
    this.#timeoutMs = options.timeoutMs ?? 10_000
    this.limits = {
      itemsPerRequest: { tags: FASTLY_KEYS_PER_REQUEST, urls: 1, prefixes: 1 },
      requestsPerSecond: options.requestsPerSecond ?? 50,
      burst: options.burst ?? 50,
    }
  }

  async purge(request: PurgeRequest): Promise<PurgeOutcome> {
    checkRequest(this, request)
    const headers: Record<string, string> = { 'fastly-key': this.#token, accept: 'application/json' }
    if (request.soft && request.kind !== 'all') headers['fastly-soft-purge'] = '1'
    const service = `${this.#api}/service/${encodeURIComponent(this.#serviceId)}`
    let url: string
    if (request.kind === 'tags') {
      url = `${service}/purge`
      headers['surrogate-key'] = request.items.join(' ')
    } else if (request.kind === 'urls') {
      url = `${this.#api}/purge/${this.#host}${request.items[0]!}`
    } else {
      url = `${service}/purge_all`
    }
    const answer = await send(this.name, url, { method: 'POST', headers, timeoutMs: this.#timeoutMs })
    return { id: purgeId(answer.body) }
  }

  async close(): Promise<void> {}
}

/** `{"status":"ok","id":"..."}` for one purge; a key → id map for a batch (no single id then). */
function purgeId(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { id?: unknown }
    return typeof parsed.id === 'string' ? parsed.id : undefined
  } catch {
    return undefined
  }
}
