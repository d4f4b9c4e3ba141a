import type { IncomingMessage } from 'node:http'
import { RequestError } from './request-error.js'

/** The largest request body the demo app reads: a product update is a few dozen bytes. */
export const MAX_BODY_BYTES = 16 * 1024

/**
 * Reads a request body as JSON, refusing before any work is done: a content type other than
 * `application/json` (charset, when given, UTF-8) is a 415; a body over {@link MAX_BODY_BYTES} is a
 * 413, announced (Content-Length: refused before reading a byte) or streamed (refused at the first
 * chunk past the limit, so an endless body costs no memory); malformed JSON is a 400.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type']
  if (type === undefined || !isJsonUtf8(type)) {
    throw new RequestError(415, 'content-type', 'application/json (charset utf-8, if given)',
      `content-type must be application/json, got ${type === undefined ? 'none' : JSON.stringify(type.slice(0, 100))}`)
  }
  const tooLarge = new RequestError(413, 'body', `at most ${MAX_BODY_BYTES} bytes`, `the body must be at most ${MAX_BODY_BYTES} bytes`,
    { connection: 'close' })
  const announced = req.headers['content-length']
  if (announced !== undefined && Number(announced) > MAX_BODY_BYTES) throw tooLarge
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw tooLarge
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))) as unknown
  } catch {
    throw new RequestError(400, 'body', 'a JSON object in UTF-8', 'the body is not valid JSON')
  }
}

/** `application/json`, any case, with an optional `charset=utf-8` (quoted or not) and other parameters ignored. */
function isJsonUtf8(header: string): boolean {
  const [essence, ...params] = header.split(';').map((part) => part.trim().toLowerCase())
  if (essence !== 'application/json') return false
  for (const param of params) {
    const [name, value] = param.split('=', 2).map((s) => s.trim())
    if (name === 'charset' && value?.replace(/^"(.*)"$/, '$1') !== 'utf-8') return false
  }
  return true
}
