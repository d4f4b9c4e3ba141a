/**
 * `tiercache/cdn`: purge CDNs (Varnish, nginx, CloudFront, Cloudflare, Fastly) from the
 * invalidation bus. One port ({@link CdnPurger}), an adapter per CDN, and the runner behind
 * `tiercache cdn-purger`. The cloud SDKs (`@aws-sdk/client-cloudfront`, `cloudflare`) are optional
 * peer dependencies, loaded the first time their purger sends a request.
 */
export type { CdnPurger, PurgeCapabilities, PurgeKind, PurgeLimits, PurgeOutcome, PurgeRequest } from './purger.js'
export { CdnConfigError, CdnPurgeError, CdnUnsupportedError } from './errors.js'
export { VarnishPurger } from './adapters/varnish.js'
export type { VarnishPurgerOptions } from './adapters/varnish.js'
export { NginxPurger } from './adapters/nginx.js'
export type { NginxPurgerOptions } from './adapters/nginx.js'
export { FastlyPurger, FASTLY_KEYS_PER_REQUEST } from './adapters/fastly.js'
export type { FastlyPurgerOptions } from './adapters/fastly.js'
export { CloudflarePurger } from './adapters/cloudflare.js'
export type { CloudflarePurgerOptions } from './adapters/cloudflare.js'
export { CloudFrontPurger, CLOUDFRONT_MAX_PATHS_IN_PROGRESS, CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS } from './adapters/cloudfront.js'
export type { CloudFrontPurgerOptions } from './adapters/cloudfront.js'
export { cloudFrontDistributionConfig } from './cloudfront-distribution.js'
export type { CloudFrontDistributionOptions } from './cloudfront-distribution.js'
export { CdnPurgeRunner } from './runner.js'
export type { CdnPurgeRunnerOptions, CdnPurgeRunnerStats } from './runner.js'
export type { DeadLetter, FollowerEvent, FollowerStats, RetryPolicy } from './follower.js'
export { parseMapping, planPurges } from './mapping.js'
export type { CdnMapping, PurgePlan, PurgeWork } from './mapping.js'
export { parseCdnPurgerConfig, createPurger } from './config.js'
export type { CdnPurgerConfig, ProviderSpec } from './config.js'
