import { checkRequest } from '../errors.js'
import type { CdnPurger, PurgeCapabilities, PurgeLimits, PurgeOutcome, PurgeRequest } from '../purger.js'
import { baseUrl, header, send } from './http.js'

export interface VarnishPurgerOptions {
  /** Where Varnish listens, e.g. `http://127.0.0.1:6081` (the purge ACL must admit this host). */
  readonly url: string
  /** Host header of the cached site (URL purges and bans are per host). Default: the host of `url`. */
  readonly host?: string | undefined
  readonly name?: string | undefined
  /** Surrogate keys in one xkey request. Default 100 (they travel in one header). */
  readonly tagsPerRequest?: number | undefined
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
  /** Deadline of one purge request. Default 5000 ms. */
  readonly timeoutMs?: number | undefined
}

/**
 * Varnish with the shipped VCL (deploy/varnish/tiercache.vcl): surrogate keys through vmod xkey
 * (`xkey-purge` / `xkey-softpurge`), one URL through `PURGE /path` (vmod purge, hard or soft),
 * prefixes and everything through bans. A local Varnish has no documented rate limit: the default
 * pace (1000 requests a second) only keeps a burst of purges from starving its clients.
 */
export class VarnishPurger implements CdnPurger {
  readonly provider = 'varnish'
  readonly name: string
  readonly capabilities: PurgeCapabilities = { kinds: ['tags', 'urls', 'prefixes', 'all'], soft: ['tags', 'urls'] }
  readonly limits: PurgeLimits
  readonly #url: string
  readonly #host: string
  readonly #timeoutMs: number

  constructor(options: VarnishPurgerOptions) {
    this.#url = baseUrl(options.url)
    this.#host = options.host ?? new URL(this.#url).host
    this.name = options.name ?? 'varnish'
    this.#timeoutMs = options.timeoutMs ?? 5_000
    this.limits = {
      itemsPerRequest: { tags: options.tagsPerRequest ?? 100, urls: 1, prefixes: 1 },
      requestsPerSecond: options.requestsPerSecond ?? 1_000,
      burst: options.burst ?? 100,
    }
  }

  async purge(request: PurgeRequest): Promise<PurgeOutcome> {
    checkRequest(this, request)
    const headers: Record<string, string> = { host: this.#host }
    let path = '/'
    switch (request.kind) {
      case 'tags':
        headers[request.soft ? 'xkey-softpurge' : 'xkey-purge'] = request.items.join(' ')
        break
      case 'urls':
        path = request.items[0]!
        if (request.soft) headers['tc-soft'] = '1'
        break
      case 'prefixes':
        headers['tc-ban-url'] = `^${escapeRegex(request.items[0]!)}`
        break
      case 'all':
        headers['tc-ban-all'] = '1'
        break
    }
    const answer = await send(this.name, `${this.#url}${path}`, { method: 'PURGE', headers, timeoutMs: this.#timeoutMs })
    const purged = Number(header(answer, 'tc-purged') ?? Number.NaN)
    return { purged: Number.isFinite(purged) ? purged : undefined }
  }

  async close(): Promise<void> {}
}

/**
 * A path prefix as a PCRE2 literal for a ban expression. A double quote would end the ban's
 * string argument, so it (like every character outside the safe set) is sent as \xHH.
 */
export function escapeRegex(text: string): string {
  let out = ''
  for (const ch of text) {
    if (/[A-Za-z0-9/_~-]/.test(ch)) out += ch
    else if (ch.codePointAt(0)! < 0x80) out += `\\x${ch.codePointAt(0)!.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return out
}
