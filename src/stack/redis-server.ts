import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createConnection } from 'node:net'
import { delimiter, join } from 'node:path'
import { freePort } from '../cluster/free-port.js'

/** A redis-server this process started. */
export interface OwnRedis {
  readonly url: string
  readonly pid: number
  readonly binary: string
  readonly port: number
  /**
   * Freezes the process (SIGSTOP): it keeps its port and its connections but answers nothing, the
   * hung Redis a cache must survive. {@link OwnRedis.resume} (SIGCONT) brings it back as it was.
   */
  hang(): void
  /** Undoes {@link OwnRedis.hang}; harmless when it is not hung. */
  resume(): void
  /** Stops it (resumed first if hung; SIGTERM, then SIGKILL after 3 s) and resolves once it exited. */
  stop(): Promise<void>
}

/** The first executable `name` on PATH (what `which` answers), or undefined. */
export function findOnPath(name: string, path: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** How long a fresh redis-server may take to answer PING. */
const START_TIMEOUT_MS = 15_000

/**
 * Starts `binary` as a throwaway Redis for the demo stack: loopback only, a free port, no
 * persistence (no RDB, no AOF: nothing is written to disk), in this process's group (a Ctrl-C or a
 * group kill reaches it too), stopped by {@link OwnRedis.stop}. Resolves once it answers PING.
 */
export async function startRedisServer(binary: string): Promise<OwnRedis> {
  const port = await freePort()
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--daemonize', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000) })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => resolve()) })
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject)
    void exited.then(() => reject(new Error(`redis-server exited at start: ${stderr.trim().split('\n').pop() ?? ''}`)))
  })
  const running = (): boolean => child.exitCode === null && child.signalCode === null
  let hung = false
  const resume = (): void => {
    if (hung && running()) child.kill('SIGCONT')
    hung = false
  }
  const hang = (): void => {
    if (!running()) return
    child.kill('SIGSTOP')
    hung = true
  }
  // Should this process exit without stopping it (a deadline's process.exit), a hung server must
  // not stay frozen forever: a stopped process acts on no signal but SIGKILL and SIGCONT.
  const onExit = (): void => {
    if (!running()) return
    if (hung) child.kill('SIGCONT')
    child.kill('SIGTERM')
  }
  process.once('exit', onExit)
  void exited.then(() => process.off('exit', onExit))
  const stop = async (): Promise<void> => {
    if (!running()) return
    // A SIGTERM sent to a stopped process waits until it is continued.
    resume()
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
  }
  try {
    await Promise.race([answersPing(port), failed])
  } catch (error) {
    await stop()
    throw error
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid!, binary, port, hang, resume, stop }
}

/** Retries PING until +PONG, up to {@link START_TIMEOUT_MS}. */
async function answersPing(port: number): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'))
      socket.setTimeout(1_000, () => { socket.destroy(); resolve(false) })
      socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`redis-server did not answer on port ${port} within ${START_TIMEOUT_MS / 1000} s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** True when something accepts TCP connections at `url`'s host and port. */
export function reachable(url: string, timeoutMs = 2_000): Promise<boolean> {
  let host = '127.0.0.1'
  let port = 6379
  try {
    const u = new URL(url)
    host = u.hostname === '' ? host : u.hostname.replace(/^\[|\]$/g, '')
    port = u.port === '' ? port : Number(u.port)
  } catch {
    return Promise.resolve(false)
  }
  return new Promise((resolve) => {
    const socket = createConnection({ port, host }, () => { socket.destroy(); resolve(true) })
    socket.setTimeout(timeoutMs, () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(false))
  })
}
