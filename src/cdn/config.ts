import { CdnConfigError } from './errors.js'
import type { CdnMapping } from './mapping.js'
import { asRecord, parseMapping, refuseUnknown } from './mapping.js'
import type { RetryPolicy } from './follower.js'
import type { CdnPurger } from './purger.js'

/**
 * The `tiercache cdn-purger --config file.json` configuration, validated before anything starts:
 * every problem is one {@link CdnConfigError} whose message starts with the field
 * (`providers[1].zoneId: expected a non-empty string`). API tokens are read from environment
 * variables named in the file, never from the file itself.
 */
export interface CdnPurgerConfig {
  /** Redis URL of the invalidation bus. Default $REDIS_URL, else redis://127.0.0.1:6379. */
  readonly redis: string
  /** The cache namespace whose bus to follow. */
  readonly namespace: string
  /** This runner's name: its cursors and dead letters are kept under it. Default `cdn-purger`. */
  readonly name: string
  readonly mapping: CdnMapping
  readonly retry: RetryPolicy
  readonly providers: readonly ProviderSpec[]
}

export type ProviderSpec =
  | { readonly type: 'varnish'; readonly name: string; readonly url: string; readonly host?: string | undefined; readonly tagsPerRequest?: number | undefined } & Pacing
  | { readonly type: 'nginx'; readonly name: string; readonly purgeUrl: string; readonly host: string } & Pacing
  | { readonly type: 'cloudfront'; readonly name: string; readonly distributionId: string; readonly region?: string | undefined; readonly endpoint?: string | undefined } & Pacing
  | { readonly type: 'cloudflare'; readonly name: string; readonly zoneId: string; readonly site: string; readonly apiToken: string; readonly apiUrl?: string | undefined; readonly itemsPerRequest?: number | undefined } & Pacing
  | { readonly type: 'fastly'; readonly name: string; readonly serviceId: string; readonly host: string; readonly apiToken: string; readonly apiUrl?: string | undefined } & Pacing

interface Pacing {
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
  readonly timeoutMs?: number | undefined
}

const PROVIDERS = ['varnish', 'nginx', 'cloudfront', 'cloudflare', 'fastly'] as const
const PACING = ['requestsPerSecond', 'burst', 'timeoutMs']
const FIELDS: Record<(typeof PROVIDERS)[number], readonly string[]> = {
  varnish: ['url', 'host', 'tagsPerRequest'],
  nginx: ['purgeUrl', 'host'],
  cloudfront: ['distributionId', 'region', 'endpoint'],
  cloudflare: ['zoneId', 'site', 'apiTokenEnv', 'apiUrl', 'itemsPerRequest'],
  fastly: ['serviceId', 'host', 'apiTokenEnv', 'apiUrl'],
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 }

export function parseCdnPurgerConfig(input: unknown, env: Readonly<Record<string, string | undefined>> = process.env): CdnPurgerConfig {
  const root = asRecord(input, 'config')
  refuseUnknown(root, ['redis', 'namespace', 'name', 'mapping', 'retry', 'providers'], 'config')
  const redis = root.redis === undefined ? (nonEmpty(env.REDIS_URL) ?? 'redis://127.0.0.1:6379') : url(root.redis, 'redis', ['redis:', 'rediss:'])
  const namespace = text(root.namespace, 'namespace')
  if (/[{}]/.test(namespace)) throw new CdnConfigError('namespace', 'must not contain braces')
  const name = root.name === undefined ? 'cdn-purger' : text(root.name, 'name')
  if (/[{}:]/.test(name)) throw new CdnConfigError('name', 'must not contain braces or colons')
  const mapping = parseMapping(root.mapping)
  const retry = parseRetry(root.retry)
  if (!Array.isArray(root.providers) || root.providers.length === 0) {
    throw new CdnConfigError('providers', `expected a non-empty array of providers (type: ${PROVIDERS.join(', ')}), got ${JSON.stringify(root.providers)}`)
  }
  const providers = root.providers.map((p, i) => parseProvider(p, `providers[${i}]`, env))
  const seen = new Set<string>()
  providers.forEach((p, i) => {
    if (seen.has(p.name)) throw new CdnConfigError(`providers[${i}].name`, `${JSON.stringify(p.name)} is used twice; give each provider its own name`)
    seen.add(p.name)
  })
  return { redis, namespace, name, mapping, retry, providers }
}

function parseRetry(input: unknown): RetryPolicy {
  if (input === undefined) return DEFAULT_RETRY
  const r = asRecord(input, 'retry')
  refuseUnknown(r, ['attempts', 'baseDelayMs', 'maxDelayMs'], 'retry')
  return {
    attempts: optionalNumber(r.attempts, 'retry.attempts', 1, 100, true) ?? DEFAULT_RETRY.attempts,
    baseDelayMs: optionalNumber(r.baseDelayMs, 'retry.baseDelayMs', 1, 600_000, false) ?? DEFAULT_RETRY.baseDelayMs,
    maxDelayMs: optionalNumber(r.maxDelayMs, 'retry.maxDelayMs', 1, 3_600_000, false) ?? DEFAULT_RETRY.maxDelayMs,
  }
}

function parseProvider(input: unknown, at: string, env: Readonly<Record<string, string | undefined>>): ProviderSpec {
  const p = asRecord(input, at)
  const type = p.type
  if (typeof type !== 'string' || !(PROVIDERS as readonly string[]).includes(type)) {
    throw new CdnConfigError(`${at}.type`, `expected one of ${PROVIDERS.join(', ')}, got ${JSON.stringify(type)}`)
  }
  const kind = type as (typeof PROVIDERS)[number]
  refuseUnknown(p, ['type', 'name', ...PACING, ...FIELDS[kind]], at)
  const name = p.name === undefined ? kind : text(p.name, `${at}.name`)
  if (/[{}:]/.test(name)) throw new CdnConfigError(`${at}.name`, 'must not contain braces or colons')
  const pacing: Pacing = {
    requestsPerSecond: optionalNumber(p.requestsPerSecond, `${at}.requestsPerSecond`, 0.001, 100_000, false),
    burst: optionalNumber(p.burst, `${at}.burst`, 1, 100_000, true),
    timeoutMs: optionalNumber(p.timeoutMs, `${at}.timeoutMs`, 1, 600_000, false),
  }
  const token = (variable: string): string => {
    const envName = p.apiTokenEnv === undefined ? variable : text(p.apiTokenEnv, `${at}.apiTokenEnv`)
    const value = nonEmpty(env[envName])
    if (value === undefined) throw new CdnConfigError(`${at}.apiTokenEnv`, `set the environment variable ${envName} to the ${kind} API token`)
    return value
  }
  const optionalUrl = (field: string): string | undefined => p[field] === undefined ? undefined : url(p[field], `${at}.${field}`, ['http:', 'https:'])
  switch (kind) {
    case 'varnish':
      return { type: kind, name, ...pacing, url: url(p.url, `${at}.url`, ['http:', 'https:']), host: optionalText(p.host, `${at}.host`), tagsPerRequest: optionalNumber(p.tagsPerRequest, `${at}.tagsPerRequest`, 1, 10_000, true) }
    case 'nginx':
      return { type: kind, name, ...pacing, purgeUrl: url(p.purgeUrl, `${at}.purgeUrl`, ['http:', 'https:']), host: text(p.host, `${at}.host`) }
    case 'cloudfront':
      return { type: kind, name, ...pacing, distributionId: text(p.distributionId, `${at}.distributionId`), region: optionalText(p.region, `${at}.region`), endpoint: optionalUrl('endpoint') }
    case 'cloudflare':
      return { type: kind, name, ...pacing, zoneId: text(p.zoneId, `${at}.zoneId`), site: url(p.site, `${at}.site`, ['http:', 'https:']), apiToken: token('CLOUDFLARE_API_TOKEN'), apiUrl: optionalUrl('apiUrl'), itemsPerRequest: optionalNumber(p.itemsPerRequest, `${at}.itemsPerRequest`, 1, 500, true) }
    case 'fastly':
      return { type: kind, name, ...pacing, serviceId: text(p.serviceId, `${at}.serviceId`), host: text(p.host, `${at}.host`), apiToken: token('FASTLY_API_TOKEN'), apiUrl: optionalUrl('apiUrl') }
  }
}

/** Builds the adapter a provider spec names; the cloud SDKs load on first use. */
export async function createPurger(spec: ProviderSpec): Promise<CdnPurger> {
  const pacing = { name: spec.name, requestsPerSecond: spec.requestsPerSecond, burst: spec.burst }
  switch (spec.type) {
    case 'varnish': {
      const { VarnishPurger } = await import('./adapters/varnish.js')
      return new VarnishPurger({ ...pacing, url: spec.url, host: spec.host, tagsPerRequest: spec.tagsPerRequest, timeoutMs: spec.timeoutMs })
    }
    case 'nginx': {
      const { NginxPurger } = await import('./adapters/nginx.js')
      return new NginxPurger({ ...pacing, purgeUrl: spec.purgeUrl, host: spec.host, timeoutMs: spec.timeoutMs })
    }
    case 'cloudfront': {
      const { CloudFrontPurger } = await import('./adapters/cloudfront.js')
      return new CloudFrontPurger({ ...pacing, distributionId: spec.distributionId, region: spec.region, endpoint: spec.endpoint })
    }
    case 'cloudflare': {
      const { CloudflarePurger } = await import('./adapters/cloudflare.js')
      return new CloudflarePurger({ ...pacing, zoneId: spec.zoneId, apiToken: spec.apiToken, site: spec.site, apiUrl: spec.apiUrl, itemsPerRequest: spec.itemsPerRequest, timeoutMs: spec.timeoutMs })
    }
    case 'fastly': {
      const { FastlyPurger } = await import('./adapters/fastly.js')
      return new FastlyPurger({ ...pacing, serviceId: spec.serviceId, apiToken: spec.apiToken, host: spec.host, apiUrl: spec.apiUrl, timeoutMs: spec.timeoutMs })
    }
  }
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CdnConfigError(field, `expected a non-empty string, got ${JSON.stringify(value) ?? String(value)}`)
  return value
}

function optionalText(value: unknown, field: string): string | undefined {
  return value === undefined ? undefined : text(value, field)
}

function url(value: unknown, field: string, protocols: readonly string[]): string {
  const s = text(value, field)
  let parsed: URL
  try {
    parsed = new URL(s)
  } catch {
    throw new CdnConfigError(field, `expected a URL (${protocols.join(' or ')}//...), got ${JSON.stringify(s)}`)
  }
  if (!protocols.includes(parsed.protocol)) throw new CdnConfigError(field, `expected a ${protocols.join(' or ')} URL, got ${JSON.stringify(s)}`)
  return s
}

function optionalNumber(value: unknown, field: string, min: number, max: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new CdnConfigError(field, `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return value
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
