/**
 * A CloudFront distribution for a tiercache service: the input of `CreateDistributionCommand`
 * (`DistributionConfig`), built from a few options so it can be reviewed and versioned.
 *
 * Two behaviours, as the design document lays them out: the default one for static files (long
 * TTLs) and `/api/*` for the service. Both let the origin's Cache-Control decide (MinTTL 0, so
 * `no-store`, `private` and `s-maxage` are honoured) and both compress. Where the document's
 * sketch forwards `Authorization` on `/api/*`, this does not: forwarding it makes every user's
 * copy its own cache entry, and responses that depend on the user should say `private` instead.
 * The API behaviour's MaxTTL can be long because `tiercache cdn-purger` invalidates on change.
 */
export interface CloudFrontDistributionOptions {
  /** The origin's domain name (the load balancer in front of the service). */
  readonly originDomain: string
  readonly originPath?: string | undefined
  /** Path pattern of the service's API. Default `/api/*`. */
  readonly apiPathPattern?: string | undefined
  /** Longest an API response is kept when the origin asks for longer. Default 86400 s. */
  readonly apiMaxTtlSeconds?: number | undefined
  /** Unique per distribution creation. Default `tiercache-<originDomain>`. */
  readonly callerReference?: string | undefined
  readonly comment?: string | undefined
}

const GET_HEAD = { Quantity: 2, Items: ['GET', 'HEAD'] }

export function cloudFrontDistributionConfig(options: CloudFrontDistributionOptions): Record<string, unknown> {
  const originId = 'tiercache-origin'
  const behavior = (minTtl: number, defaultTtl: number, maxTtl: number, queryString: boolean): Record<string, unknown> => ({
    TargetOriginId: originId,
    ViewerProtocolPolicy: 'redirect-to-https',
    AllowedMethods: { Quantity: 2, Items: ['GET', 'HEAD'], CachedMethods: GET_HEAD },
    ForwardedValues: {
      QueryString: queryString,
      Cookies: { Forward: 'none' },
      Headers: { Quantity: 0, Items: [] },
      QueryStringCacheKeys: { Quantity: 0, Items: [] },
    },
    MinTTL: minTtl,
    DefaultTTL: defaultTtl,
    MaxTTL: maxTtl,
    Compress: true,
  })
  return {
    CallerReference: options.callerReference ?? `tiercache-${options.originDomain}`,
    Comment: options.comment ?? `tiercache CDN for ${options.originDomain}`,
    Enabled: true,
    HttpVersion: 'http2and3',
    IsIPV6Enabled: true,
    Aliases: { Quantity: 0, Items: [] },
    Origins: {
      Quantity: 1,
      Items: [{
        Id: originId,
        DomainName: options.originDomain,
        OriginPath: options.originPath ?? '',
        CustomHeaders: { Quantity: 0, Items: [] },
        CustomOriginConfig: {
          HTTPPort: 80,
          HTTPSPort: 443,
          OriginProtocolPolicy: 'https-only',
          OriginSslProtocols: { Quantity: 1, Items: ['TLSv1.2'] },
          OriginReadTimeout: 30,
          OriginKeepaliveTimeout: 5,
        },
      }],
    },
    DefaultCacheBehavior: behavior(0, 86_400, 31_536_000, false),
    CacheBehaviors: {
      Quantity: 1,
      // The API: no TTL unless the origin gives one (DefaultTTL 0), query strings in the cache key.
      Items: [{ PathPattern: options.apiPathPattern ?? '/api/*', ...behavior(0, 0, options.apiMaxTtlSeconds ?? 86_400, true) }],
    },
  }
}
