import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/**
 * Local stand-ins for the CDN APIs that cannot be reached from tests (Fastly, Cloudflare,
 * CloudFront). Each checks every request against the provider's documented API (method, path,
 * auth header, body shape, batch limits) and records what broke the rules in `violations`; a
 * request that follows them is applied to a small model of cached objects, so a test can ask
 * whether an object was purged. These prove the adapters speak the documented API through the
 * official clients; they say nothing about the live services.
 */
export interface CachedObject {
  readonly path: string
  readonly tags: readonly string[]
  /** fresh: served from cache; stale: soft-purged (revalidated on the next request); gone: purged. */
  state: 'fresh' | 'stale' | 'gone'
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

export interface FakeApi {
  readonly url: string
  readonly requests: RecordedRequest[]
  readonly violations: string[]
  /** Puts `path` in the model's cache, tagged `tags`. */
  cache(path: string, tags: readonly string[]): void
  state(path: string): CachedObject['state'] | undefined
  /** Answers the next `count` requests with `status` (as the provider does when it is down or throttling). */
  failNext(count: number, status: number): void
  close(): Promise<void>
}

type Handler = (req: RecordedRequest, res: ServerResponse, model: Model) => void

class Model {
  readonly objects = new Map<string, CachedObject>()
  readonly violations: string[] = []
  apply(match: (o: CachedObject) => boolean, soft: boolean): number {
    let n = 0
    for (const o of this.objects.values()) {
      if (o.state !== 'gone' && match(o)) {
        o.state = soft ? 'stale' : 'gone'
        n++
      }
    }
    return n
  }
  violate(res: ServerResponse, status: number, message: string, body: string): void {
    this.violations.push(message)
    res.writeHead(status, { 'content-type': 'application/json' }).end(body)
  }
}

async function startFake(handler: Handler): Promise<FakeApi> {
  const model = new Model()
  const requests: RecordedRequest[] = []
  let failures: { count: number; status: number } = { count: 0, status: 500 }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(recorded)
      if (failures.count > 0) {
        failures.count--
        res.writeHead(failures.status, { 'content-type': 'application/json', ...(failures.status === 429 ? { 'retry-after': '0' } : {}) }).end('{"error":"injected failure"}')
        return
      }
      handler(recorded, res, model)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    violations: model.violations,
    cache: (path, tags) => { model.objects.set(path, { path, tags, state: 'fresh' }) },
    state: (path) => model.objects.get(path)?.state,
    failNext: (count, status) => { failures = { count, status } },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => { resolve() })
    }),
  }
}

/**
 * Fastly's purge API (https://www.fastly.com/documentation/reference/api/purging/): `Fastly-Key`
 * auth; `POST /service/{id}/purge` with `Surrogate-Key: k1 k2` (at most 256 keys);
 * `POST /purge/{host}{path}` for one URL; `POST /service/{id}/purge_all`; `Fastly-Soft-Purge: 1`
 * for soft (not on purge_all).
 */
export function fakeFastly(options: { serviceId: string; token: string; host: string }): Promise<FakeApi> {
  return startFake((req, res, model) => {
    if (req.method !== 'POST') return model.violate(res, 405, `Fastly: ${req.method} ${req.path}: purges are POST`, '{"msg":"method not allowed"}')
    if (req.headers['fastly-key'] !== options.token) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"msg":"Provided credentials are missing or invalid"}')
      return
    }
    const soft = req.headers['fastly-soft-purge'] === '1'
    const service = `/service/${options.serviceId}`
    if (req.path === `${service}/purge`) {
      const keys = String(req.headers['surrogate-key'] ?? '').split(' ').filter((k) => k !== '')
      if (keys.length === 0 || keys.length > 256) return model.violate(res, 400, `Fastly: ${keys.length} surrogate keys in one batch purge (1 to 256)`, '{"msg":"bad request"}')
      model.apply((o) => o.tags.some((t) => keys.includes(t)), soft)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Object.fromEntries(keys.map((k) => [k, randomUUID()]))))
      return
    }
    if (req.path === `${service}/purge_all`) {
      if (soft) return model.violate(res, 400, 'Fastly: purge_all cannot be soft', '{"msg":"bad request"}')
      model.apply(() => true, false)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      return
    }
    const prefix = `/purge/${options.host}/`
    if (req.path.startsWith(prefix)) {
      const path = req.path.slice(prefix.length - 1)
      model.apply((o) => o.path === path, soft)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', id: randomUUID() }))
      return
    }
    model.violate(res, 404, `Fastly: no such endpoint ${req.method} ${req.path}`, '{"msg":"not found"}')
  })
}

/**
 * Cloudflare's purge_cache (https://developers.cloudflare.com/api/resources/cache/methods/purge/):
 * `POST /zones/{zone_id}/purge_cache` under /client/v4, `Authorization: Bearer <token>`, a JSON
 * body with exactly one of files (absolute URLs), tags, prefixes (host/path, no scheme) or
 * purge_everything: true; at most `maxItems` items (30 per call is the limit documented for every plan).
 */
export function fakeCloudflare(options: { zoneId: string; token: string; host: string; maxItems?: number }): Promise<FakeApi> {
  const max = options.maxItems ?? 30
  const fail = (res: ServerResponse, model: Model, message: string): void => model.violate(res, 400, `Cloudflare: ${message}`,
    JSON.stringify({ success: false, errors: [{ code: 1012, message }], messages: [], result: null }))
  return startFake((req, res, model) => {
    if (req.method !== 'POST' || req.path !== `/client/v4/zones/${options.zoneId}/purge_cache`) return fail(res, model, `no such endpoint ${req.method} ${req.path}`)
    if (req.headers.authorization !== `Bearer ${options.token}`) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null }))
      return
    }
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return fail(res, model, 'the body must be JSON')
    let body: Record<string, unknown>
    try {
      body = JSON.parse(req.body) as Record<string, unknown>
    } catch {
      return fail(res, model, 'the body is not JSON')
    }
    const fields = Object.keys(body)
    if (fields.length !== 1) return fail(res, model, `exactly one of files, tags, hosts, prefixes, purge_everything; got ${fields.join(', ')}`)
    const field = fields[0]!
    const items = body[field]
    if (field === 'purge_everything') {
      if (items !== true) return fail(res, model, 'purge_everything must be true')
      model.apply(() => true, false)
    } else {
      if (!Array.isArray(items) || items.length === 0 || items.length > max) return fail(res, model, `${field}: 1 to ${max} strings per call`)
      const list = items.filter((i): i is string => typeof i === 'string')
      if (list.length !== items.length) return fail(res, model, `${field}: 1 to ${max} strings per call`)
      if (field === 'files') {
        if (!list.every((u) => /^https?:\/\//.test(u))) return fail(res, model, 'files must be absolute URLs')
        const paths = list.map((u) => new URL(u).pathname + new URL(u).search)
        model.apply((o) => paths.includes(o.path), false)
      } else if (field === 'tags') {
        model.apply((o) => o.tags.some((t) => list.includes(t)), false)
      } else if (field === 'prefixes') {
        if (list.some((p) => /^https?:/.test(p))) return fail(res, model, 'prefixes carry no scheme')
        model.apply((o) => list.some((p) => `${options.host}${o.path}`.startsWith(p)), false)
      } else {
        return fail(res, model, `unknown field ${field}`)
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true, errors: [], messages: [], result: { id: randomUUID().replace(/-/g, '') } }))
  })
}

/**
 * CloudFront's CreateInvalidation / GetInvalidation (API version 2020-05-31): SigV4-signed
 * (`Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/cloudfront/aws4_request`),
 * an XML InvalidationBatch whose Quantity matches its paths, each path starting with "/"; at most
 * 3,000 file paths and 15 wildcard paths in invalidations in progress (answered with
 * TooManyInvalidationsInProgress). Invalidations stay InProgress until `completeAll`.
 */
export interface FakeCloudFront extends FakeApi {
  completeAll(): void
  inProgress(): { paths: number; wildcards: number }
}

export async function fakeCloudFront(options: { distributionId: string; accessKeyId: string }): Promise<FakeCloudFront> {
  const invalidations = new Map<string, { paths: string[]; status: 'InProgress' | 'Completed'; reference: string }>()
  const inProgress = (): { paths: number; wildcards: number } => {
    let paths = 0
    let wildcards = 0
    for (const i of invalidations.values()) {
      if (i.status !== 'InProgress') continue
      for (const p of i.paths) if (p.includes('*')) wildcards++
      else paths++
    }
    return { paths, wildcards }
  }
  const xmlError = (res: ServerResponse, status: number, code: string, message: string): void => {
    res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() })
      .end(`<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`)
  }
  const invalidationXml = (id: string): string => {
    const inv = invalidations.get(id)!
    return `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${id}</Id><Status>${inv.status}</Status><CreateTime>${new Date().toISOString()}</CreateTime>`
      + `<InvalidationBatch><Paths><Quantity>${inv.paths.length}</Quantity><Items>${inv.paths.map((p) => `<Path>${p}</Path>`).join('')}</Items></Paths><CallerReference>${inv.reference}</CallerReference></InvalidationBatch></Invalidation>`
  }
  const base = `/2020-05-31/distribution/${options.distributionId}/invalidation`
  const fake = await startFake((req, res, model) => {
    const auth = String(req.headers.authorization ?? '')
    const credential = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/cloudfront\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/.exec(auth)
    if (credential === null || req.headers['x-amz-date'] === undefined) {
      model.violations.push(`CloudFront: a request without a SigV4 Authorization for the cloudfront service: ${auth}`)
      return xmlError(res, 403, 'MissingAuthenticationToken', 'not signed')
    }
    if (credential[1] !== options.accessKeyId) return xmlError(res, 403, 'AccessDenied', 'The security token included in the request is invalid')
    if (req.method === 'POST' && req.path === base) {
      const paths = [...req.body.matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'))
      const quantity = Number(/<Paths><Quantity>(\d+)<\/Quantity>/.exec(req.body)?.[1] ?? Number.NaN)
      const reference = /<CallerReference>([^<]+)<\/CallerReference>/.exec(req.body)?.[1]
      if (!req.body.includes('<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">')) {
        model.violations.push('CloudFront: the body is not an InvalidationBatch of API 2020-05-31')
        return xmlError(res, 400, 'MalformedInput', 'not an InvalidationBatch')
      }
      if (quantity !== paths.length || paths.length === 0) {
        model.violations.push(`CloudFront: Quantity ${quantity} for ${paths.length} paths`)
        return xmlError(res, 400, 'InconsistentQuantities', 'quantity does not match')
      }
      if (reference === undefined || [...invalidations.values()].some((i) => i.reference === reference)) {
        model.violations.push('CloudFront: a missing or reused CallerReference')
        return xmlError(res, 400, 'InvalidArgument', 'CallerReference')
      }
      if (!paths.every((p) => p.startsWith('/'))) {
        model.violations.push(`CloudFront: paths must start with "/": ${paths.join(' ')}`)
        return xmlError(res, 400, 'InvalidArgument', 'path')
      }
      const now = inProgress()
      const wild = paths.filter((p) => p.includes('*')).length
      if (now.paths + paths.length - wild > 3_000 || now.wildcards + wild > 15) {
        return xmlError(res, 400, 'TooManyInvalidationsInProgress', 'Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.')
      }
      const id = `I${randomUUID().replace(/-/g, '').slice(0, 13).toUpperCase()}`
      invalidations.set(id, { paths, status: 'InProgress', reference })
      for (const p of paths) {
        if (p.endsWith('*')) model.apply((o) => o.path.startsWith(p.slice(0, -1)), false)
        else model.apply((o) => o.path === p, false)
      }
      res.writeHead(201, { 'content-type': 'text/xml', location: `https://cloudfront.amazonaws.com${base}/${id}` }).end(invalidationXml(id))
      return
    }
    const get = new RegExp(`^${base}/([A-Z0-9]+)$`).exec(req.path)
    if (req.method === 'GET' && get !== null) {
      if (!invalidations.has(get[1]!)) return xmlError(res, 404, 'NoSuchInvalidation', 'no such invalidation')
      res.writeHead(200, { 'content-type': 'text/xml' }).end(invalidationXml(get[1]!))
      return
    }
    model.violations.push(`CloudFront: no such endpoint ${req.method} ${req.path}`)
    xmlError(res, 404, 'NotFound', 'no such endpoint')
  })
  return {
    ...fake,
    completeAll: () => { for (const i of invalidations.values()) i.status = 'Completed' },
    inProgress,
  }
}
