import type { IncomingMessage } from 'node:http'

/** A refusal: the status and a `{ error, field, code }` body (field and code when known). */
export class Refusal extends Error {
  readonly status: number
  readonly field: string | undefined
  readonly code: string | undefined
  constructor(status: number, message: string, field?: string, code?: string) {
    super(message)
    this.status = status
    this.field = field
    this.code = code
  }
}

/** Bodies the controls accept are small JSON objects. */
export const MAX_BODY_BYTES = 1024

/**
 * The dashboard listens on loopback and changes the running stack, so it refuses requests a
 * browser would send on behalf of another site: a Host that is not this listener (DNS rebinding),
 * and for controls an Origin from elsewhere or a body that is not `application/json` (which a
 * cross-site form cannot send without a preflight this server never answers).
 */
export function checkHost(req: IncomingMessage, port: number, listening: string): string {
  const host = req.headers.host ?? ''
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${listening.includes(':') ? `[${listening}]` : listening}:${port}`.toLowerCase()]
  if (!allowed.includes(host.toLowerCase())) throw new Refusal(421, 'unknown host: open the dashboard at the address tiercache start printed', 'host')
  return host
}

export function checkControl(req: IncomingMessage, host: string): void {
  const origin = req.headers.origin
  if (origin !== undefined && origin !== `http://${host}`) throw new Refusal(403, 'cross-origin request refused', 'origin')
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') throw new Refusal(415, 'send the body as application/json', 'content-type')
}

/** Reads a JSON object body of at most {@link MAX_BODY_BYTES}. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new Refusal(413, `body larger than ${MAX_BODY_BYTES} bytes`, 'body')
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > MAX_BODY_BYTES) throw new Refusal(413, `body larger than ${MAX_BODY_BYTES} bytes`, 'body')
    chunks.push(chunk)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new Refusal(400, 'body is not JSON', 'body')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Refusal(400, 'body must be a JSON object', 'body')
  return body as Record<string, unknown>
}

/** Refuses keys other than `known`. */
export function onlyKeys(body: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(body)) if (!known.includes(key)) throw new Refusal(400, `unknown field ${JSON.stringify(key.slice(0, 40))}; expected ${known.join(', ')}`, key.slice(0, 40))
}

/** A finite number in [min, max] (integer when asked). */
export function numberIn(body: Record<string, unknown>, field: string, min: number, max: number, integer: boolean): number {
  const value = body[field]
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Refusal(400, `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, field)
  }
  return value
}

/** One of `values`. */
export function oneOf<T extends string>(body: Record<string, unknown>, field: string, values: readonly T[]): T {
  const value = body[field]
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) throw new Refusal(400, `${field} must be one of ${values.join(', ')}`, field)
  return value as T
}
