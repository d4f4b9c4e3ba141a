/**
 * `npm run bench:edge-hostile`: the edge under attack, three measurements.
 *
 * 1. Cache-hit latency (p50 / p99) with no purges, then during a flood of purges (1,000/s by
 *    default, half by tag, half by URL prefix over 10,000 stored URLs), then during a control
 *    flood of as many extra cache hits per second: once with the default purge rate limit (most
 *    of the flood gets 429) and once with the limit raised out of the way (every purge applied,
 *    in batches). Target: p99 during the flood within 2x of the idle p99.
 * 2. Time from an origin that stalls mid-body to the next good answer for that URL, with
 *    `originBodyTimeout` 1 s. Target: at most the timeout + 100 ms.
 * 3. Memory (RSS, heap after GC) of an edge with 10,000 clients asking for one URL whose fill is
 *    stalled: with the default `maxWaitersPerFill` (1,000: the rest get 503) and with the bound
 *    raised above 10,000 (every client waits), so the bound's effect is measured in the same run.
 *
 * The edge runs in a child process, the purge flood in another; the origin and the measuring
 * clients run here. Latencies are measured per request with keep-alive connections (8 in parallel).
 *
 *   npm run bench:edge-hostile -- [--seconds 5] [--purge-rate 1000] [--clients 10000]
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'purge-rate': { type: 'string', default: '1000' },
    clients: { type: 'string', default: '10000' },
  },
})
const SECONDS = Number(values.seconds)
const PURGE_RATE = Number(values['purge-rate'])
const CLIENTS = Number(values.clients)
const TOKEN = 'bench-purge-token-0123456789'
const children: ChildProcess[] = []

async function startEdge(options: Record<string, unknown>): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(new URL('./edge-hostile-server.ts', import.meta.url).pathname, [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  children.push(child)
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      const m = /READY (\d+)/.exec(d.toString())
      if (m !== null) resolve(m[1] as string)
    })
    child.once('exit', (code) => reject(new Error(`edge exited with ${String(code)}`)))
  })
  return { url: `http://127.0.0.1:${port}`, child }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

function memory(child: ChildProcess): Promise<{ rss: number; heapUsed: number; stats: { waitersRefused: number; collapsed: number } }> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as never))
    child.send('mem')
  })
}

async function startOrigin(handler: http.RequestListener): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler)
  server.keepAliveTimeout = 60_000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

function request(agent: http.Agent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

/** Hit latencies (ms) for `seconds`, 8 requests in parallel over the hot set. */
async function hitLatencies(url: string, seconds: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const out: number[] = []
  const end = performance.now() + seconds * 1000
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    let i = w
    while (performance.now() < end) {
      const t = performance.now()
      const r = await request(agent, `${url}/hot/${i++ % 100}`)
      if (r.status !== 200) throw new Error(`hit answered ${r.status}`)
      out.push(performance.now() - t)
    }
  }))
  agent.destroy()
  return out.sort((a, b) => a - b)
}

/** Starts the purge flood in a child process (see edge-hostile-flood.ts); `stop()` returns the answers by status. */
async function purgeFlood(url: string, rate: number, mode: 'purge' | 'hit' = 'purge'): Promise<{ stop: () => Promise<Record<number, number>> }> {
  const child = fork(new URL('./edge-hostile-flood.ts', import.meta.url).pathname, [url, TOKEN, String(rate), mode], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.push(child)
  await new Promise<void>((resolve) => child.once('message', () => resolve()))
  return {
    stop: () => new Promise((resolve) => {
      child.once('message', (statuses) => resolve(statuses as Record<number, number>))
      child.send('stop')
    }),
  }
}

async function purgeFloodBench(): Promise<void> {
  const origin = await startOrigin((req, res) => {
    const cold = /^\/cold\/(\d+)\/(\d+)/.exec(req.url ?? '')
    res.setHeader('cache-control', 'max-age=3600')
    if (cold !== null) res.setHeader('surrogate-key', `cold-tag-${cold[2]}`)
    res.end(`body of ${req.url}`)
  })
  console.log(`\n1. cache-hit latency, idle vs a purge flood of ${PURGE_RATE}/s (${SECONDS} s each)`)
  console.log('   run                                  hits     p50 ms   p99 ms   p99/idle   purges 200 / 429 / unanswered')
  for (const [label, purge] of [['default limit (100/s, burst 200)', {}], ['limit raised (every purge applied)', { ratePerSecond: 1_000_000, burst: 1_000_000 }]] as const) {
    const { url, child } = await startEdge({ origin: origin.url, purgeToken: TOKEN, purge })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
    for (let i = 0; i < 100; i++) await request(agent, `${url}/hot/${i}`)
    const cold: Promise<unknown>[] = []
    for (let i = 0; i < 10_000; i++) {
      cold.push(request(agent, `${url}/cold/${i % 97}/${i}`))
      if (cold.length >= 32) await Promise.all(cold.splice(0))
    }
    await Promise.all(cold)
    agent.destroy()
    const idle = await hitLatencies(url, SECONDS)
    const flood = await purgeFlood(url, PURGE_RATE)
    const during = await hitLatencies(url, SECONDS)
    const statuses = await flood.stop()
    // The control: the same rate of extra requests, cache hits instead of purges. What the flood
    // costs beyond it is the purges' own cost; the rest is any traffic on two shared cores.
    const control = await purgeFlood(url, PURGE_RATE, 'hit')
    const duringControl = await hitLatencies(url, SECONDS)
    await control.stop()
    const idleP99 = percentile(idle, 99)
    const row = (name: string, l: number[], s: string): string =>
      `   ${name.padEnd(36)} ${String(l.length).padStart(6)}   ${percentile(l, 50).toFixed(3).padStart(6)}   ${percentile(l, 99).toFixed(3).padStart(6)}   ${(percentile(l, 99) / idleP99).toFixed(2).padStart(8)}   ${s}`
    console.log(`   ${label}`)
    console.log(row('  idle', idle, ''))
    console.log(row('  during purge flood', during, `${statuses[200] ?? 0} / ${statuses[429] ?? 0} / ${statuses[-1] ?? 0}${statuses[0] === undefined ? '' : ` (${statuses[0]} failed)`}`))
    console.log(row(`  control: ${PURGE_RATE} extra hits/s`, duringControl, ''))
    await stop(child)
  }
  origin.server.closeAllConnections()
  origin.server.close()
}

async function stallBench(): Promise<void> {
  let stalls = 0
  let stalledAt = 0
  const held: http.ServerResponse[] = []
  const origin = await startOrigin((_req, res) => {
    res.setHeader('cache-control', 'max-age=3600')
    if (stalls < 1) {
      stalls++
      res.writeHead(200, { 'content-length': '1000' })
      res.write('partial', () => { stalledAt = performance.now() })
      held.push(res)
      return
    }
    res.end('x'.repeat(1000))
  })
  const timeoutMs = 1_000
  const { url, child } = await startEdge({ origin: origin.url, originBodyTimeout: timeoutMs })
  const agent = new http.Agent({ keepAlive: true })
  const first = await request(agent, `${url}/stall`)
  let good = first.status === 200 && first.body.length === 1000 ? first : undefined
  while (good === undefined) {
    const r = await request(agent, `${url}/stall`)
    if (r.status === 200 && r.body.length === 1000) good = r
  }
  const recovered = performance.now() - stalledAt
  console.log(`\n2. stalled origin body -> next good answer for the URL (originBodyTimeout ${timeoutMs} ms)`)
  console.log(`   first answer ${first.status}; good answer ${recovered.toFixed(1)} ms after the origin went silent (target <= ${timeoutMs + 100} ms: ${recovered <= timeoutMs + 100 ? 'met' : 'NOT met'})`)
  agent.destroy()
  for (const res of held) res.destroy()
  await stop(child)
  origin.server.closeAllConnections()
  origin.server.close()
}

async function waitersBench(): Promise<void> {
  const held: http.ServerResponse[] = []
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-length': '1000', 'cache-control': 'max-age=3600' })
    res.write('partial')
    held.push(res)
  })
  console.log(`\n3. ${CLIENTS} clients on one URL whose fill is stalled`)
  console.log('   maxWaitersPerFill     waiting    503s  failed   RSS before -> with clients   heap before -> with clients')
  for (const bound of [1_000, CLIENTS * 2]) {
    const { url, child } = await startEdge({ origin: origin.url, originBodyTimeout: 600_000, maxWaitersPerFill: bound })
    const before = await memory(child)
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    let refused = 0
    let failed = 0
    const all = Array.from({ length: CLIENTS }, () => request(agent, `${url}/stalled`).then((r) => { if (r.status === 503) refused++ }, () => { failed++ }))
    // Settled: every client is refused, counted as a waiter by the edge, or failed to connect (a
    // connection the kernel's accept queue dropped), or a minute went by.
    const deadline = performance.now() + 60_000
    let with_ = await memory(child)
    while (with_.stats.collapsed + with_.stats.waitersRefused + failed < CLIENTS - 1 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      with_ = await memory(child)
    }
    const mb = (n: number): string => `${(n / 1048576).toFixed(1)} MB`
    console.log(`   ${String(bound).padStart(17)}   ${String(with_.stats.collapsed + 1).padStart(9)}  ${String(refused).padStart(6)}  ${String(failed).padStart(6)}   ${mb(before.rss).padStart(9)} -> ${mb(with_.rss).padEnd(14)}  ${mb(before.heapUsed).padStart(9)} -> ${mb(with_.heapUsed)}`)
    await stop(child)
    await Promise.all(all)
    agent.destroy()
  }
  for (const res of held) res.destroy()
  origin.server.closeAllConnections()
  origin.server.close()
}

try {
  console.log(`bench:edge-hostile on ${process.version}`)
  await purgeFloodBench()
  await stallBench()
  await waitersBench()
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
}
