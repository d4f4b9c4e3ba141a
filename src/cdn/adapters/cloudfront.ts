import { randomUUID } from 'node:crypto'
import { loadOptional } from '../load-client.js'
import { CdnPurgeError, checkRequest, retryableStatus } from '../errors.js'
import type { CdnPurger, PurgeCapabilities, PurgeLimits, PurgeOutcome, PurgeRequest } from '../purger.js'

export interface CloudFrontPurgerOptions {
  readonly distributionId: string
  /** Default `us-east-1` (CloudFront's API lives there). */
  readonly region?: string | undefined
  /** API endpoint; default the SDK's. */
  readonly endpoint?: string | undefined
  /** Default the SDK's credential chain (environment, shared files, instance role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined } | undefined
  readonly name?: string | undefined
  readonly requestsPerSecond?: number | undefined
  readonly burst?: number | undefined
}

/**
 * CloudFront's documented maxima per distribution: 3,000 file paths in invalidations in progress at
 * one time, and 15 wildcard paths in progress (counted apart).
 */
export const CLOUDFRONT_MAX_PATHS_IN_PROGRESS = 3_000
export const CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS = 15

interface CloudFrontModule {
  CloudFrontClient: new (config: Record<string, unknown>) => { send(command: unknown): Promise<unknown>; destroy(): void }
  CreateInvalidationCommand: new (input: unknown) => unknown
  GetInvalidationCommand: new (input: unknown) => unknown
}

interface InFlight {
  readonly id: string
  readonly paths: number
  readonly wildcards: number
}

/**
 * CloudFront through `@aws-sdk/client-cloudfront` (CreateInvalidation): URLs as paths, prefixes as
 * `/prefix*` wildcard paths, everything as `/*`. CloudFront has no tags and no soft invalidation.
 *
 * It keeps count of the paths of its invalidations still in progress; before one would pass the
 * documented maxima it asks CloudFront (GetInvalidation) which ones completed, and if the budget is
 * still spent it fails retryably instead of sending a request CloudFront would refuse
 * (TooManyInvalidationsInProgress, which is retryable too when another writer spent the budget).
 */
export class CloudFrontPurger implements CdnPurger {
  readonly provider = 'cloudfront'
  readonly name: string
  readonly capabilities: PurgeCapabilities = { kinds: ['urls', 'prefixes', 'all'], soft: [] }
  readonly limits: PurgeLimits
  readonly #options: CloudFrontPurgerOptions
  readonly #inFlight = new Map<string, InFlight>()
  #sdk: Promise<{ module: CloudFrontModule; client: InstanceType<CloudFrontModule['CloudFrontClient']> }> | undefined

  constructor(options: CloudFrontPurgerOptions) {
    this.#options = options
    this.name = options.name ?? 'cloudfront'
    this.limits = {
      itemsPerRequest: { tags: 1, urls: CLOUDFRONT_MAX_PATHS_IN_PROGRESS, prefixes: CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS },
      requestsPerSecond: options.requestsPerSecond ?? 1,
      burst: options.burst ?? 5,
    }
  }

  /** Paths and wildcard paths of this purger's invalidations not yet known to be completed. */
  get inProgress(): { paths: number; wildcards: number } {
    let paths = 0
    let wildcards = 0
    for (const f of this.#inFlight.values()) {
      paths += f.paths
      wildcards += f.wildcards
    }
    return { paths, wildcards }
  }

  async purge(request: PurgeRequest): Promise<PurgeOutcome> {
    checkRequest(this, request)
    const paths = request.kind === 'urls' ? [...request.items]
      : request.kind === 'prefixes' ? request.items.map((p) => `${p}*`)
      : ['/*']
    const wildcards = paths.filter((p) => p.endsWith('*')).length
    const files = paths.length - wildcards
    const { module, client } = await (this.#sdk ??= this.#open())
    if (!this.#fits(files, wildcards)) await this.#refresh(module, client)
    if (!this.#fits(files, wildcards)) {
      const now = this.inProgress
      throw new CdnPurgeError(this.name, `${now.paths} paths and ${now.wildcards} wildcard paths already in progress; CloudFront allows ${CLOUDFRONT_MAX_PATHS_IN_PROGRESS} and ${CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS}`, { retryable: true })
    }
    try {
      const result = await client.send(new module.CreateInvalidationCommand({
        DistributionId: this.#options.distributionId,
        InvalidationBatch: { CallerReference: `tiercache-${randomUUID()}`, Paths: { Quantity: paths.length, Items: paths } },
      })) as { Invalidation?: { Id?: string; Status?: string } }
      const id = result.Invalidation?.Id
      if (id !== undefined && result.Invalidation?.Status !== 'Completed') this.#inFlight.set(id, { id, paths: files, wildcards })
      return { id }
    } catch (error) {
      throw awsError(this.name, 'CreateInvalidation', error)
    }
  }

  async close(): Promise<void> {
    if (this.#sdk !== undefined) (await this.#sdk.catch(() => undefined))?.client.destroy()
  }

  #fits(files: number, wildcards: number): boolean {
    const now = this.inProgress
    return now.paths + files <= CLOUDFRONT_MAX_PATHS_IN_PROGRESS && now.wildcards + wildcards <= CLOUDFRONT_MAX_WILDCARDS_IN_PROGRESS
  }

  /** Drops the invalidations CloudFront reports completed. */
  async #refresh(module: CloudFrontModule, client: InstanceType<CloudFrontModule['CloudFrontClient']>): Promise<void> {
    for (const flight of [...this.#inFlight.values()]) {
      try {
        const got = await client.send(new module.GetInvalidationCommand({ DistributionId: this.#options.distributionId, Id: flight.id })) as { Invalidation?: { Status?: string } }
        if (got.Invalidation?.Status === 'Completed') this.#inFlight.delete(flight.id)
      } catch (error) {
        // An invalidation CloudFront no longer knows is not in progress.
        if ((error as { name?: string }).name === 'NoSuchInvalidation') this.#inFlight.delete(flight.id)
        else throw awsError(this.name, 'GetInvalidation', error)
      }
    }
  }

  async #open(): Promise<{ module: CloudFrontModule; client: InstanceType<CloudFrontModule['CloudFrontClient']> }> {
    const module = await loadOptional<CloudFrontModule>('@aws-sdk/client-cloudfront', 'the CloudFront purger')
    const client = new module.CloudFrontClient({
      region: this.#options.region ?? 'us-east-1',
      // The runner retries with its own back-off and counts the attempts.
      maxAttempts: 1,
      ...(this.#options.endpoint === undefined ? {} : { endpoint: this.#options.endpoint }),
      ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
    })
    return { module, client }
  }
}

/** An SDK error as a {@link CdnPurgeError}: throttling, 5xx and TooManyInvalidationsInProgress are worth retrying. */
function awsError(provider: string, operation: string, error: unknown): CdnPurgeError {
  const name = (error as { name?: string }).name ?? 'Error'
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  const retryable = name === 'TooManyInvalidationsInProgress' || name === 'Throttling' || name === 'ThrottlingException'
    || status === undefined || retryableStatus(status)
  return new CdnPurgeError(provider, `${operation}: ${name}: ${(error as Error).message?.slice(0, 300) ?? ''}`, { retryable, ...(status === undefined ? {} : { status }), cause: error })
}
