import { request } from 'node:http'
import type { IncomingMessage } from 'node:http'

/** One Server-Sent Events frame as read off the wire. */
export interface Frame { id?: string; event?: string; data?: string; comment?: string }

/** One open stream, read frame by frame as the server writes it. */
export interface EventStream {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  /** The whole body of a refusal (empty for a stream). */
  readonly body: string
  /** Resolves with the next frame matching `test`, skipping (consuming) the frames before it. */
  next(test: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>
  close(): void
}

/**
 * Opens `path` on `base` with a plain `node:http` request (no client-side normalising) and reads
 * it as an event stream; a refusal (any status but 200) is read whole into `body`.
 */
export function openEventStream(base: string, path: string, options: { headers?: Record<string, string>; method?: string } = {}): Promise<EventStream> {
  const { hostname, port } = new URL(base)
  const { headers = {}, method = 'GET' } = options
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, headers, agent: false }, (res) => {
      const frames: Frame[] = []
      const waiters: (() => void)[] = []
      let buffer = ''
      let body = ''
      /** Frames before it were consumed by an earlier `next`. */
      let cursor = 0
      const status = res.statusCode ?? 0
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        if (status !== 200) {
          body += chunk
          return
        }
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame: Frame = {}
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) frame.comment = line.slice(1).trim()
            else if (line.startsWith('id: ')) frame.id = line.slice(4)
            else if (line.startsWith('event: ')) frame.event = line.slice(7)
            else if (line.startsWith('data: ')) frame.data = line.slice(6)
          }
          buffer = buffer.slice(end + 2)
          frames.push(frame)
          for (const wake of waiters.splice(0)) wake()
        }
      })
      const stream: EventStream = {
        status,
        headers: res.headers,
        get body() { return body },
        async next(test, timeoutMs = 30_000) {
          const deadline = Date.now() + timeoutMs
          for (let i = cursor; ; i++) {
            while (i >= frames.length) {
              if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs}ms; got ${JSON.stringify(frames)}`)
              await new Promise<void>((wake) => { waiters.push(wake); setTimeout(wake, 100) })
            }
            if (test(frames[i]!)) {
              cursor = i + 1
              return frames[i]!
            }
          }
        },
        close: () => { req.destroy() },
      }
      if (status === 200) resolve(stream)
      else res.on('end', () => resolve(stream))
    })
    req.on('error', reject)
    req.end()
  })
}

