/**
 * `npm run bench:edge`: cache-hit throughput and latency of the edge for a 1 KB response, against
 * a bare node:http server writing the same bytes (the limit for a Node edge) and nginx proxy_cache
 * (the C peer), measured in one run with wrk as the load generator.
 *
 * Each server is a separate process pinned to core 0 (nginx with one worker), wrk runs pinned to
 * core 1, one thread. Rounds interleave the three targets (rotating the order) so that noise from
 * other work on the machine lands on all of them; the report gives the median and the spread
 * (min..max) of each, and the per-round ratio edge / bare and edge / nginx.
 *
 * Besides throughput it reports CPU time per request (user + system time the server process used
 * during the run, from /proc, divided by the requests served): on a shared machine throughput
 * moves with whatever else runs, CPU per request much less.
 *
 *   npm run bench:edge -- [--rounds 7] [--duration 5] [--connections 64] [--no-nginx]
 *
 * Needs `wrk` (apt-get install -y wrk) and, for the nginx peer, `nginx` (apt-get install -y nginx-light).
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises'
import { createServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { BENCH_BODY } from './edge-body.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    'no-nginx': { type: 'boolean', default: false },
  },
})
const ROUNDS = Number(values.rounds)
const DURATION = Number(values.duration)
const CONNECTIONS = Number(values.connections)
const children: ChildProcess[] = []

async function which(bin: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${bin}`])
    return true
  } catch {
    return false
  }
}

/** CPU ticks (user + system) of a process and its children, from /proc (Linux). */
async function cpuTicks(pids: readonly number[]): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  let ticks = 0
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // The process is gone: nothing to add.
    }
  }
  return ticks
}

async function childPids(pid: number): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid)])
    return stdout.split('\n').filter((l) => l.trim() !== '').map(Number)
  } catch {
    return []
  }
}

function startNode(args: string[]): Promise<number> {
  const child = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', 'bench/edge-server.ts', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /READY (\d+)/.exec(d.toString())
      if (m !== null) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${String(code)}`)))
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function startNginx(originPort: number): Promise<{ port: number; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-bench-nginx-'))
  await chmod(dir, 0o777)
  const port = await freePort()
  // One worker (one core, like the Node servers), proxy_cache in memory-backed files, keep-alive
  // without a request cap (node:http has none), access log off (the edge keeps no access log).
  await writeFile(join(dir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  proxy_cache_path ${dir}/cache keys_zone=edge:16m;
  proxy_temp_path ${dir}/tmp;
  client_body_temp_path ${dir}/body;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`)
  const child = spawn('taskset', ['-c', '0', 'nginx', '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' })
  children.push(child)
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`)
      return { port, dir }
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error('nginx did not start')
}

interface WrkResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  /** Server CPU time per request, microseconds. */
  readonly cpuUs: number
  readonly socketErrors: string | undefined
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value)
  if (m === null) return Number.NaN
  const n = Number(m[1])
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n
}

const TICK_US = 10_000 // USER_HZ = 100 on Linux

async function wrk(port: number, pids: readonly number[]): Promise<WrkResult> {
  const before = await cpuTicks(pids)
  const { stdout } = await run('taskset', ['-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', `http://127.0.0.1:${port}/bench/item`],
    { maxBuffer: 1 << 20 })
  const after = await cpuTicks(pids)
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1])
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1])
  const p50 = toMs(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '')
  const p99 = toMs(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '')
  if (/Non-2xx or 3xx responses/.test(stdout)) throw new Error(`wrk saw error responses:\n${stdout}`)
  // Timeouts happen when other work starves the machine: reported, not fatal.
  const socketErrors = /Socket errors: (.+)/.exec(stdout)?.[1]
  return { rps, p50, p99, cpuUs: ((after - before) * TICK_US) / requests, socketErrors }
}

async function check(name: string, port: number, expectHit: string | undefined): Promise<void> {
  await fetch(`http://127.0.0.1:${port}/bench/item`).then((r) => r.arrayBuffer())
  const r = await fetch(`http://127.0.0.1:${port}/bench/item`)
  const body = Buffer.from(await r.arrayBuffer())
  if (r.status !== 200 || !body.equals(BENCH_BODY)) throw new Error(`${name}: unexpected response ${r.status}, ${body.length} bytes`)
  if (expectHit !== undefined && r.headers.get('x-cache') !== expectHit) throw new Error(`${name}: not a cache hit (${String(r.headers.get('x-cache'))})`)
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

async function main(): Promise<void> {
  if (!(await which('wrk'))) throw new Error('wrk not found: apt-get install -y wrk')
  const withNginx = !values['no-nginx'] && (await which('nginx'))
  console.log(`edge cache-hit benchmark: ${BENCH_BODY.length}-byte body, wrk -t1 -c${CONNECTIONS} -d${DURATION}s, ${ROUNDS} rounds, ${cpus().length} cores (servers on core 0, wrk on core 1), node ${process.version}`)
  const originPort = await startNode(['origin'])
  const targets: { name: string; port: number; pids: number[] }[] = [
    { name: 'bare node:http', port: await startNode(['bare']), pids: [children.at(-1)!.pid!] },
    { name: 'tiercache edge', port: await startNode(['edge', `http://127.0.0.1:${originPort}`]), pids: [children.at(-1)!.pid!] },
  ]
  let nginxDir: string | undefined
  if (withNginx) {
    const nginx = await startNginx(originPort)
    nginxDir = nginx.dir
    const master = children.at(-1)!.pid!
    targets.push({ name: 'nginx proxy_cache', port: nginx.port, pids: [master, ...await childPids(master)] })
  } else {
    console.log('nginx not found (apt-get install -y nginx-light): measuring without the nginx peer')
  }
  try {
    await check('bare', targets[0]!.port, 'HIT')
    await check('edge', targets[1]!.port, 'HIT')
    if (withNginx) await check('nginx', targets[2]!.port, 'HIT')
    // Warm-up: JIT and connection pools.
    for (const t of targets) await run('taskset', ['-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, '-d2s', `http://127.0.0.1:${t.port}/bench/item`])
    const results = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!)
      const line: string[] = []
      for (const t of order) {
        const r = await wrk(t.port, t.pids)
        results.get(t.name)!.push(r)
        line.push(`${t.name} ${fmt(r.rps)} (${fmt(r.cpuUs, 1)} us cpu/req${r.socketErrors === undefined ? '' : `, socket errors: ${r.socketErrors}`})`)
      }
      console.log(`  round ${round + 1}: ${line.join(', ')}`)
    }
    const bare = results.get('bare node:http')!
    const edge = results.get('tiercache edge')!
    const nginx = results.get('nginx proxy_cache')
    console.log('\n| server | req/s median | req/s min..max | CPU us/req median | CPU us/req min..max | p50 ms | p99 ms |')
    console.log('| --- | --- | --- | --- | --- | --- | --- |')
    for (const [name, rs] of results) {
      const rps = rs.map((r) => r.rps)
      const cpu = rs.map((r) => r.cpuUs)
      console.log(`| ${name} | ${fmt(median(rps))} | ${fmt(Math.min(...rps))}..${fmt(Math.max(...rps))} | ${fmt(median(cpu), 1)} | ` +
        `${fmt(Math.min(...cpu), 1)}..${fmt(Math.max(...cpu), 1)} | ${fmt(median(rs.map((r) => r.p50)), 2)} | ${fmt(median(rs.map((r) => r.p99)), 2)} |`)
    }
    const ratio = (a: readonly WrkResult[], b: readonly WrkResult[]): number[] => a.map((r, i) => r.rps / b[i]!.rps)
    // CPU efficiency ratio: b's CPU per request over a's (above 1: a is cheaper).
    const cpuRatio = (a: readonly WrkResult[], b: readonly WrkResult[]): number[] => a.map((r, i) => b[i]!.cpuUs / r.cpuUs)
    const show = (label: string, xs: number[]): void => {
      console.log(`${label}: median ${fmt(median(xs), 3)}, min..max ${fmt(Math.min(...xs), 3)}..${fmt(Math.max(...xs), 3)}`)
    }
    console.log('')
    show('edge / bare node:http, throughput (per round; target >= 0.9)', ratio(edge, bare))
    show('edge / bare node:http, requests per CPU second (per round)', cpuRatio(edge, bare))
    if (nginx !== undefined) {
      show('edge / nginx proxy_cache, throughput (per round)', ratio(edge, nginx))
      show('edge / nginx proxy_cache, requests per CPU second (per round)', cpuRatio(edge, nginx))
    }
  } finally {
    for (const child of children) child.kill('SIGTERM')
    if (nginxDir !== undefined) {
      await new Promise((r) => setTimeout(r, 200))
      await rm(nginxDir, { recursive: true, force: true })
    }
  }
}

main().catch((error: unknown) => {
  for (const child of children) child.kill('SIGKILL')
  console.error(error)
  process.exitCode = 1
})
