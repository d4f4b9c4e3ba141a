import type { IncomingMessage } from 'node:http'

/** RFC 3986 §3.2.2 host (IP-literal, IPv4 or reg-name) and an optional port: what `Host` may hold (RFC 9112 §3.2). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d*)?$/

/**
 * Request framing node:http lets through and RFC 9112 forbids: answered here, before anything is
 * forwarded (a proxy that forwards an ambiguous message is how request smuggling works).
 */
export function framingError(req: IncomingMessage): [number, string] | undefined {
  if (req.httpVersionMajor !== 1) return [505, 'only HTTP/1.0 and HTTP/1.1 are served']
  // RFC 9112 §3.2: more than one Host line, or an invalid Host value, is a 400.
  const raw = req.rawHeaders
  let hosts = 0
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host') {
      hosts++
      if (hosts > 1) return [400, 'more than one Host header']
      if (!HOST_VALUE.test(raw[i + 1] as string)) return [400, 'invalid Host header']
    }
  }
  const te = req.headers['transfer-encoding']
  if (te !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (req.httpVersionMinor === 0) return [400, 'Transfer-Encoding in an HTTP/1.0 request']
    const codings = te.split(',').map((t) => t.trim().toLowerCase())
    // RFC 9112 §6.3: chunked must be the final coding of a request, or the length is unknowable.
    if (codings[codings.length - 1] !== 'chunked') return [400, 'Transfer-Encoding must end with chunked']
    // RFC 9112 §6.1: an unknown transfer coding gets 501; this edge decodes chunked only.
    if (codings.some((t) => t !== 'chunked')) return [501, `transfer coding ${codings.find((t) => t !== 'chunked') ?? ''} is not implemented`]
  }
  return undefined
}
