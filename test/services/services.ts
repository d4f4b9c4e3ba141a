/**
 * Finds or starts the real services the integration tests need. Order of preference:
 * 1. `REDIS_URL` / `DATABASE_URL`, or the standard loopback ports, when something answers there;
 * 2. a private server started from the `redis-server` / PostgreSQL binaries on this machine, on a
 *    free port with a temporary data directory, stopped when the run ends;
 * 3. otherwise a failure that says exactly what to install. Integration tests never skip.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, chownSync } from 'node:fs'
import { createServer, connect as netConnect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

export class MissingServiceError extends Error {
  override readonly name = 'MissingServiceError'
}

/** A started process and how to stop it. */
export interface Started {
  readonly url: string
  stop(): Promise<void>
}

/** A free TCP port on loopback (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** Sends PING over a raw socket; true on +PONG (or -NOAUTH: something Redis-like answers). */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = netConnect({ host: hostname || '127.0.0.1', port: Number(port || 6379) })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())))
  })
}

/** Locates an executable by name on PATH and in the usual install places. */
export function findBinary(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/bin', '/usr/bin', '/usr/sbin', '/opt/homebrew/bin', ...extraDirs]
  for (const dir of dirs) {
    if (dir === '') continue
    const candidate = join(dir, name)
    if (existsSync(candidate)) return candidate
  }
  return undefined
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${what} did not come up within ${timeoutMs}ms`)
}

/**
 * Starts a private `redis-server` (no persistence unless `args` turn it on) on `port` or a free one.
 * With `dir`, it uses that data directory and leaves it in place when stopped (the caller owns it:
 * a server restarted on the same `dir` finds its AOF there).
 */
export async function startRedisServer(options: { port?: number; args?: string[]; dir?: string } = {}): Promise<Started & { port: number; process: ChildProcess; dir: string }> {
  const binary = findBinary('redis-server')
  if (binary === undefined) {
    throw new MissingServiceError('redis-server was not found. Install Redis 7 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or point REDIS_URL at a running server.')
  }
  const port = options.port ?? (await freePort())
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tiercache-redis-'))
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--logfile', join(dir, 'redis.log'), ...(options.args ?? [])], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  await waitFor(() => redisAnswers(url, 200), 10_000, `redis-server on port ${port}`)
  return {
    url,
    port,
    dir,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        child.kill('SIGKILL')
        await exited
      }
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Finds Redis or starts one. */
export async function ensureRedis(): Promise<Started> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (await redisAnswers(url)) return { url, stop: async () => {} }
  try {
    const started = await startRedisServer()
    console.warn(`[tiercache tests] no Redis at ${url}; started a private redis-server at ${started.url}`)
    return started
  } catch (error) {
    if (error instanceof MissingServiceError) {
      throw new MissingServiceError(`Redis is not reachable at ${url} and ${error.message}`)
    }
    throw error
  }
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return []
  return readdirSync(root).sort().reverse().map((v) => join(root, v, 'bin'))
}

/** Finds PostgreSQL or starts a private cluster from initdb/postgres binaries. */
export async function ensurePostgres(): Promise<Started> {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  if (await postgresAnswers(url)) return { url, stop: async () => {} }
  try {
    const started = await startPrivatePostgres()
    console.warn(`[tiercache tests] no PostgreSQL at ${url}; started a private server at ${started.url}`)
    return started
  } catch (error) {
    if (error instanceof MissingServiceError) {
      throw new MissingServiceError(`PostgreSQL is not reachable at ${url}, and ${error.message} Or point DATABASE_URL at a running server.`)
    }
    throw error
  }
}

/** Options of {@link startPrivatePostgres}. */
export interface PrivatePostgresOptions {
  /** What the server is, as the error names it when it cannot be started. Default `a private PostgreSQL server`. */
  what?: string
  /** Server settings (`name=value`), after the defaults (`wal_level=logical`, fsync off). */
  settings?: string[]
  /**
   * Where `initdb` and `postgres` are looked for. Default: PATH, the usual install places and
   * Debian's `/usr/lib/postgresql/<version>/bin`, newest first.
   */
  binDirs?: string[]
}

/**
 * Starts a private PostgreSQL cluster (initdb in a temporary directory, a free port, `wal_level=logical`,
 * fsync off) with a database `test`, from the machine's binaries. Without them, a
 * `MissingServiceError` that names the missing binaries, where they were looked for and what to install.
 */
export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<Started> {
  const settings = options.settings ?? []
  const dirs = options.binDirs ?? [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/local/bin', '/usr/bin', '/usr/sbin',
    '/opt/homebrew/bin', ...postgresBinDirs()]
  const find = (name: string): string | undefined => dirs.map((dir) => join(dir, name)).find((candidate) => existsSync(candidate))
  const initdb = find('initdb')
  const postgres = find('postgres')
  if (initdb === undefined || postgres === undefined) {
    const missing = [initdb === undefined ? 'initdb' : undefined, postgres === undefined ? 'postgres' : undefined].filter((n) => n !== undefined)
    const where = options.binDirs === undefined ? 'on PATH, in /usr/local/bin, /usr/bin, /usr/sbin, /opt/homebrew/bin or /usr/lib/postgresql/<version>/bin' : `in ${dirs.join(', ')}`
    throw new MissingServiceError(`${options.what ?? 'a private PostgreSQL server'} cannot be started: no ${missing.join(' or ')} binary was found ${where}. ` +
      'Install the PostgreSQL server, version 15 or newer (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql).')
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-pg-'))
  // initdb refuses to run as root: run the private server as the postgres (or nobody) user.
  const asRoot = userInfo().uid === 0
  const runAs = asRoot ? (spawnSync('id', ['postgres']).status === 0 ? 'postgres' : 'nobody') : undefined
  const wrap = (cmd: string, args: string[]): [string, string[]] => runAs === undefined ? [cmd, args] : ['runuser', ['-u', runAs, '--', cmd, ...args]]
  if (runAs !== undefined) {
    const ids = spawnSync('id', ['-u', runAs]).stdout.toString().trim()
    const gid = spawnSync('id', ['-g', runAs]).stdout.toString().trim()
    chownSync(dir, Number(ids), Number(gid))
  }
  const data = join(dir, 'data')
  const [initCmd, initArgs] = wrap(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync'])
  const init = spawnSync(initCmd, initArgs, { stdio: 'pipe' })
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr.toString()}`)
  const [pgCmd, pgArgs] = wrap(postgres, ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'wal_level=logical', '-c', 'max_connections=200', ...settings.flatMap((setting) => ['-c', setting])])
  const child = spawn(pgCmd, pgArgs, { stdio: 'ignore' })
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
  await waitFor(() => postgresAnswers(adminUrl), 30_000, `private PostgreSQL on port ${port}`)
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query('create database test')
  await admin.end()
  const started = `postgres://postgres@127.0.0.1:${port}/test`
  return {
    url: started,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r))
        // Signal the postmaster itself (its pid is the first line of postmaster.pid): runuser,
        // when it wraps the server, does not pass SIGINT on, and the server would run forever.
        let postmaster: number | undefined
        try { postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) } catch { postmaster = undefined }
        if (postmaster !== undefined && Number.isInteger(postmaster) && postmaster > 0) process.kill(postmaster, 'SIGINT')
        else child.kill('SIGINT')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
