/**
 * `npm run bench:edge-workers`: cache hits per second through `tiercache edge --workers N` (the
 * real command, as processes) for N = 1 and N = 2, on one URL that every worker holds after its
 * first miss. The load comes from this process (keep-alive connections, `CONNECTIONS` in flight),
 * on the same machine: on a 2-core machine the load generator takes one of the cores the workers
 * would use, so this shows what the workers cost and gain here, not a multi-core server's ceiling.
 *   DURATION_S (default 10)  CONNECTIONS (default 32)  WORKERS (default "1,2")
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const duration = Number(process.env.DURATION_S ?? 10) * 1000
const connections = Number(process.env.CONNECTIONS ?? 32)
const counts = (process.env.WORKERS ?? '1,2').split(',').map(Number)

async function main(): Promise<void> {
  const body = 'x'.repeat(1024)
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=3600', 'content-type': 'text/plain' })
    res.end(body)
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  for (const workers of counts) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'edge', '--origin', originUrl, '--port', '0', '--admin-port', '0', '--workers', String(workers)],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    const url = await new Promise<string>((resolve, reject) => {
      const check = setInterval(() => {
        const m = /listening on (http:\/\/\S+?),/.exec(out)
        if (m !== null && (workers === 1 || /admin .* on/.test(out))) {
          clearInterval(check)
          resolve(m[1]!)
        }
      }, 50)
      child.once('exit', (code) => { clearInterval(check); reject(new Error(`edge exited with ${code}`)) })
    })
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
    let done = 0
    let errors = 0
    const until = performance.now() + duration
    const one = (): Promise<void> => new Promise((resolve) => {
      http.get(`${url}/page`, { agent }, (res) => {
        res.resume()
        res.on('end', () => { if (res.statusCode === 200) done++; else errors++; resolve() })
      }).on('error', () => { errors++; resolve() })
    })
    const started = performance.now()
    await Promise.all(Array.from({ length: connections }, async () => { while (performance.now() < until) await one() }))
    const seconds = (performance.now() - started) / 1000
    agent.destroy()
    console.log(`workers ${workers}: ${Math.round(done / seconds)} responses/s over ${seconds.toFixed(1)} s, ${connections} connections, ${errors} errors`)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  origin.close()
}

await main()
