import { loadOptional } from '../load-client.js'
import { CdnPurgeError, checkRequest, retryableStatus } from '../errors.js'
import type { CdnPurger, PurgeCapabilities, PurgeLimits, PurgeOutcome, PurgeRequest } from '../purger.js'

export interface CloudflarePurgerOptions {
  readonly zoneId: string
  /** An API token with the Cache Purge permission (sent as `Authorization: Bearer`). */
  readonly apiToken: string
  /** The site's origin as visitors see it, e.g. `https://www.example.com`: URL purges need full URLs. */
  readonly site: string
  /** API base. Default the client's (`https://api.cloudflare.com/client/v4`). */
  readonly apiUrl?: string | undefined
  readonly name?: string | undefined
  /**
   * Items (URLs, tags or prefixes) in one call. Default 30, the limit Cloudflare long documented
   * for every plan; its current table allows 100 (500 on Enterprise for URLs).
   */
  readonly itemsPerRequest?: number | undefined
  /** Default 5 a minute with a bucket of 25: the Free plan, the strictest; raise it for yours. */
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
  readonly timeoutMs?: number | undefined
}

interface CloudflareModule {
  default: new (options: { apiToken: string; baseURL?: string; maxRetries?: number; timeout?: number }) => CloudflareClient
}
interface CloudflareClient {
  cache: { purge(params: Record<string, unknown>): Promise<{ id?: string } | null> }
}

/**
 * Cloudflare through the official `cloudflare` package (`client.cache.purge`, which is
 * `POST /zones/<zone>/purge_cache`): tags, URLs (as full URLs of `site`), prefixes (host/path)
 * and everything. No soft purge. The client's own retries are off: the runner retries with its
 * back-off and counts the attempts.
 */
export class CloudflarePurger implements CdnPurger {
  readonly provider = 'cloudflare'
  readonly name: string
  readonly capabilities: PurgeCapabilities = { kinds: ['tags', 'urls', 'prefixes', 'all'], soft: [] }
  readonly limits: PurgeLimits
  readonly #options: CloudflarePurgerOptions
  readonly #site: URL
  #client: Promise<CloudflareClient> | undefined

  constructor(options: CloudflarePurgerOptions) {
    this.#options = options
    this.#site = new URL(options.site)
    this.name = options.name ?? 'cloudflare'
    const items = options.itemsPerRequest ?? 30
    this.limits = {
      itemsPerRequest: { tags: items, urls: items, prefixes: items },
      requestsPerSecond: options.requestsPerSecond ?? 5 / 60,
      burst: options.burst ?? 25,
    }
  }

  async purge(request: PurgeRequest): Promise<PurgeOutcome> {
    checkRequest(this, request)
    const client = await (this.#client ??= this.#open())
    const params: Record<string, unknown> = { zone_id: this.#options.zoneId }
    switch (request.kind) {
      case 'tags': params.tags = [...request.items]; break
      case 'urls': params.files = request.items.map((path) => new URL(path, this.#site).href); break
      case 'prefixes': params.prefixes = request.items.map((path) => `${this.#site.host}${path}`); break
      case 'all': params.purge_everything = true; break
    }
    try {
      const result = await client.cache.purge(params)
      return { id: result?.id }
    } catch (error) {
      const status = (error as { status?: unknown }).status
      const numeric = typeof status === 'number' ? status : undefined
      throw new CdnPurgeError(this.name, `purge_cache refused: ${(error as Error).message.slice(0, 300)}`, {
        retryable: numeric === undefined || retryableStatus(numeric),
        ...(numeric === undefined ? {} : { status: numeric }),
        cause: error,
      })
    }
  }

  async close(): Promise<void> {}

  async #open(): Promise<CloudflareClient> {
    const { default: Cloudflare } = await loadOptional<CloudflareModule>('cloudflare', 'the Cloudflare purger')
    return new Cloudflare({
      apiToken: this.#options.apiToken,
      maxRetries: 0,
      timeout: this.#options.timeoutMs ?? 10_000,
      ...(this.#options.apiUrl === undefined ? {} : { baseURL: this.#options.apiUrl }),
    })
  }
}
