/**
 * The CDN purger port: one interface in front of every CDN tiercache can drive (Varnish, nginx,
 * CloudFront, Cloudflare, Fastly). The `tiercache cdn-purger` runner turns invalidations into
 * {@link PurgeRequest}s, splits them by the adapter's {@link PurgeLimits} and paces them; the
 * adapter only speaks its CDN's API.
 *
 * Contract (test/contract/cdn-purger-contract.ts runs it against every adapter):
 * - `purge` resolves only once the CDN accepted the whole request (for CloudFront: the invalidation
 *   was created; the CDN may take a while to apply it everywhere);
 * - a kind the adapter does not declare in `capabilities` is refused with `E_CDN_UNSUPPORTED`
 *   before any request is sent; so is a request with more items than `limits` allow;
 * - `soft` is a wish: an adapter that cannot soft-purge a kind purges it hard (stricter, never
 *   looser), and says which kinds it soft-purges in `capabilities.soft`;
 * - a failure is a {@link CdnPurgeError} whose `retryable` says whether sending the same request
 *   again may succeed (network trouble, 5xx, 429, too many invalidations in progress) or not
 *   (refused credentials, a request the API calls malformed).
 */

/** What one request purges: surrogate keys (tags), exact URLs (paths), URL prefixes, or everything. */
export type PurgeKind = 'tags' | 'urls' | 'prefixes' | 'all'

export interface PurgeRequest {
  readonly kind: PurgeKind
  /** Surrogate keys, URL paths (`/api/products/42`) or path prefixes (`/api/products/`); empty for `all`. */
  readonly items: readonly string[]
  /** Mark stale (serve while revalidating) instead of removing, where the CDN can. */
  readonly soft: boolean
}

export interface PurgeCapabilities {
  /** Kinds this CDN purges. */
  readonly kinds: readonly PurgeKind[]
  /** Kinds it can purge softly; the others are purged hard even when `soft` is asked. */
  readonly soft: readonly PurgeKind[]
}

export interface PurgeLimits {
  /** Most items in one request, per kind (the provider's documented batch limit). */
  readonly itemsPerRequest: Readonly<Record<Exclude<PurgeKind, 'all'>, number>>
  /** Sustained request rate the provider allows, per second (may be below 1: Cloudflare Free allows 5 a minute). */
  readonly requestsPerSecond: number
  /** Requests that may go at once after a quiet spell. */
  readonly burst: number
}

export interface PurgeOutcome {
  /** Objects the CDN reports purged, when it says (Varnish does, the cloud APIs do not). */
  readonly purged?: number | undefined
  /** The provider's id of the purge or invalidation, when it returns one. */
  readonly id?: string | undefined
}

export interface CdnPurger {
  /** Provider type: `varnish`, `nginx`, `cloudfront`, `cloudflare`, `fastly`. */
  readonly provider: string
  /** Name of this instance (several Varnish tiers may run side by side); defaults to the provider. */
  readonly name: string
  readonly capabilities: PurgeCapabilities
  readonly limits: PurgeLimits
  purge(request: PurgeRequest): Promise<PurgeOutcome>
  close(): Promise<void>
}
