/**
 * `tiercache start` (what `npm start` runs) as a first-time user meets it: no services at all, or
 * services configured but down, a second start while one runs, a port someone else holds, Ctrl-C
 * and SIGTERM. The purge token is a secret: it is written to a file only its owner can read and
 * never printed.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { hasStack, run, stopAll, tiercache } from './cli-process.js'
import type { CliProcess } from './cli-process.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await stopAll()
  while (cleanups.length > 0) await cleanups.pop()!()
})

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-state-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'state') // not there yet: start creates it
}

/** A port held by another process's listener (here: a plain TCP server in the test). */
async function holdPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((r) => server.close(r)))
  return (server.address() as { port: number }).port
}

/** A port nothing listens on (taken from the system, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

const NO_SERVICES = { REDIS_URL: undefined, DATABASE_URL: undefined, TIERCACHE_PURGE_TOKEN: undefined, PORT: undefined }

/** Starts the stack on free ports and waits until it says where it serves. */
async function start(env: Record<string, string | undefined>, args: string[] = []): Promise<{ cli: CliProcess; edge: string; app: string }> {
  const cli = tiercache(['start', '--port', '0', '--app-port', '0', '--products', '20', ...args], env)
  const [, edge] = await cli.waitFor(/edge \(use this\)\s+(http:\/\/\S+?)\/api\/products\/1/)
  const [, app] = await cli.waitFor(/app \(origin\)\s+(http:\/\/\S+?)\/api\/products\/1/)
  await cli.waitFor(/Ctrl-C stops it/)
  return { cli, edge: edge!, app: app! }
}

// Each test starts embedded PostgreSQL at least once: seconds when the machine is quiet, far more
// when it is shared. The timeout only stops a hang.
describe('tiercache start', { timeout: 180_000 }, () => {
  it('runs with no services, keeps the purge token out of its output, and stops cleanly on SIGTERM', async () => {
    const state = await stateDir()
    const { cli, edge, app } = await start({ ...NO_SERVICES, TIERCACHE_STATE_DIR: state })
    const out = cli.out()
    expect(out).toContain('embedded PostgreSQL')
    expect(out).toContain('curl')

    const tokenFile = join(state, `purge-token-${new URL(edge).port}`)
    expect(out).toContain(tokenFile)
    const token = (await readFile(tokenFile, 'utf8')).trim()
    expect(token.length).toBeGreaterThanOrEqual(32)
    expect(out).not.toContain(token)
    expect(cli.err()).not.toContain(token)
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    expect((await stat(state)).mode & 0o077).toBe(0)

    // The stack works, and the token from the file is the one the edge takes.
    expect((await fetch(`${edge}/api/products/1`)).status).toBe(200)
    const write = await fetch(`${app}/api/products/1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"price_cents":999}' })
    expect(write.status).toBe(200)
    const purged = await run(['purge', '--tag', 'product:1', '--edge', edge], { TIERCACHE_PURGE_TOKEN: token })
    expect(purged).toMatchObject({ code: 0 })
    // The live dashboard it printed answers, on loopback.
    const [, dashboard] = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out) ?? []
    expect(dashboard, out).toBeDefined()
    const page = await fetch(dashboard!)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('tiercache live')

    cli.child.kill('SIGTERM')
    const exit = await cli.exited
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(hasStack(exit.err), exit.err).toBe(false)
    // The token goes with the stack that used it.
    expect(await readdir(state)).toEqual([])
  })

  it('stops on SIGINT (Ctrl-C) too', async () => {
    const { cli } = await start({ ...NO_SERVICES, TIERCACHE_STATE_DIR: await stateDir() })
    cli.child.kill('SIGINT')
    expect(await cli.exited).toMatchObject({ code: 0, signal: null })
  })

  it('takes the purge token from TIERCACHE_PURGE_TOKEN when set, and writes no file', async () => {
    const state = await stateDir()
    const token = 'my-own-purge-token-0123456789'
    const { cli } = await start({ ...NO_SERVICES, TIERCACHE_STATE_DIR: state, TIERCACHE_PURGE_TOKEN: token })
    expect(cli.out()).toContain('TIERCACHE_PURGE_TOKEN')
    expect(cli.out()).not.toContain(token)
    await expect(stat(state)).rejects.toMatchObject({ code: 'ENOENT' })
    cli.child.kill('SIGTERM')
    expect((await cli.exited).code).toBe(0)
  })

  it('a second start on the ports of a running one: one line naming the port and the flag, exit 1; the first keeps running', async () => {
    const state = await stateDir()
    const first = await start({ ...NO_SERVICES, TIERCACHE_STATE_DIR: state })
    const edgePort = new URL(first.edge).port
    const appPort = new URL(first.app).port
    const tokenFile = join(state, `purge-token-${edgePort}`)
    const token = await readFile(tokenFile, 'utf8')

    const onEdge = await run(['start', '--port', edgePort, '--app-port', '0', '--products', '5'], { ...NO_SERVICES, TIERCACHE_STATE_DIR: state })
    expect(onEdge.code).toBe(1)
    expect(onEdge.err.trimEnd().split('\n'), onEdge.err).toHaveLength(1)
    expect(onEdge.err).toContain(`port ${edgePort}`)
    expect(onEdge.err).toContain('--port')
    expect(hasStack(onEdge.err)).toBe(false)

    const onApp = await run(['start', '--port', '0', '--app-port', appPort, '--products', '5'], { ...NO_SERVICES, TIERCACHE_STATE_DIR: state })
    expect(onApp.code).toBe(1)
    expect(onApp.err.trimEnd().split('\n'), onApp.err).toHaveLength(1)
    expect(onApp.err).toContain(`port ${appPort}`)
    expect(onApp.err).toContain('--app-port')

    // The failed starts left the running stack and its token alone.
    expect(await readFile(tokenFile, 'utf8')).toBe(token)
    expect((await fetch(`${first.edge}/api/products/2`)).status).toBe(200)
    first.cli.child.kill('SIGTERM')
    expect((await first.cli.exited).code).toBe(0)
  })

  it('a port held by another program: exit 1, one line', async () => {
    const busy = await holdPort()
    const { code, err } = await run(['start', '--port', String(busy), '--app-port', '0', '--products', '5'], { ...NO_SERVICES, TIERCACHE_STATE_DIR: await stateDir() })
    expect(code).toBe(1)
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain(`port ${busy}`)
    expect(hasStack(err)).toBe(false)
  })

  it('REDIS_URL pointing at a closed port: starts without Redis (warning once), serves, stops on SIGTERM', async () => {
    const redisPort = await closedPort()
    const { cli, edge } = await start({ ...NO_SERVICES, TIERCACHE_STATE_DIR: await stateDir(), REDIS_URL: `redis://127.0.0.1:${redisPort}` })
    expect(cli.err()).toContain('Redis')
    expect(hasStack(cli.err())).toBe(false)
    expect((await fetch(`${edge}/api/products/3`)).status).toBe(200)
    cli.child.kill('SIGTERM')
    const exit = await cli.exited
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
  })

  it('DATABASE_URL pointing at a closed port: exit 1, one line naming it (password hidden) and what to do', async () => {
    const pgPort = await closedPort()
    const { code, out, err } = await run(['start', '--port', '0', '--app-port', '0'],
      { ...NO_SERVICES, TIERCACHE_STATE_DIR: await stateDir(), DATABASE_URL: `postgres://app:s3cret-pw@127.0.0.1:${pgPort}/shop` })
    expect(code).toBe(1)
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain(`127.0.0.1:${pgPort}`)
    expect(err).toContain('DATABASE_URL')
    expect(`${out}${err}`).not.toContain('s3cret-pw')
    expect(hasStack(err)).toBe(false)
  })
})
