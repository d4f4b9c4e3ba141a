/**
 * Child process of `npm run bench:edge-hostile`: sends purges (or, as the control, cache hits) to
 * an edge at a fixed rate until it gets `stop` on IPC, then replies with the count of answers by
 * status. A process of its own, so the flood's client work does not slow the process that
 * measures hit latency.
 *   node --import tsx bench/edge-hostile-flood.ts <edge url> <token> <per second> [purge|hit]
 */
import http from 'node:http'

const [url, token, rateText, mode = 'purge'] = process.argv.slice(2)
const rate = Number(rateText)
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const statuses: Record<number, number> = {}
const pending = new Set<Promise<void>>()
let n = 0
let stopping = false
const started = performance.now()

function purge(body: unknown): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = http.request(mode === 'hit' ? `${url}/hot/${n % 100}` : `${url}/.tiercache/purge`, mode === 'hit' ? { agent } : {
      agent, method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    }, (res) => {
      res.resume()
      res.on('end', () => {
        statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1
        resolve()
      })
    })
    req.on('error', () => {
      if (!stopping) statuses[0] = (statuses[0] ?? 0) + 1
      resolve()
    })
    req.end(mode === 'hit' ? undefined : JSON.stringify(body))
  })
}

const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - started) / 1000) * rate)
  while (n < due) {
    // Half by tag, half by URL prefix (the costly kind: it walks the URL index).
    const p = purge(n % 2 === 0 ? { tags: [`cold-tag-${n % 5000}`] } : { prefixes: [`/cold/${n % 97}/`] })
    n++
    pending.add(p)
    void p.finally(() => pending.delete(p))
  }
}, 5)

process.on('message', (message: unknown) => {
  if (message !== 'stop') return
  stopping = true
  clearInterval(timer)
  // Requests still waiting after a second (an edge that stopped reading a flooding connection
  // holds them) are counted as unanswered, under status -1.
  const waited = new Promise((resolve) => setTimeout(resolve, 1_000))
  void Promise.race([Promise.all(pending), waited]).then(() => {
    if (pending.size > 0) statuses[-1] = pending.size
    agent.destroy()
    process.send?.(statuses, () => process.exit(0))
  })
})
process.send?.('ready')
