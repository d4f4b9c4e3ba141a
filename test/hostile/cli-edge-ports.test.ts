/**
 * `tiercache edge` on a port someone else holds: the public port or the admin port, in one process
 * or with workers, with or without a bus connection. Every case is one line naming the port and
 * what to do, exit code 1, and nothing left running (a listener or a Redis connection opened before
 * the failure would keep the process alive with nothing said on stdout).
 */
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { hasStack, stopAll, tiercache } from './cli-process.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await stopAll()
  while (cleanups.length > 0) await cleanups.pop()!()
})

/** A port held by a plain TCP listener of the test. */
async function holdPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((r) => server.close(r)))
  return (server.address() as { port: number }).port
}

const ORIGIN = ['--origin', 'http://127.0.0.1:1', '--host', '127.0.0.1']

describe('tiercache edge on a port in use', { timeout: 60_000 }, () => {
  it.each([
    ['the public port, one process', (p: number) => ['--port', String(p), '--workers', '1']],
    ['the admin port, one process', (p: number) => ['--port', '0', '--admin-port', String(p), '--workers', '1']],
    ['the public port, two workers', (p: number) => ['--port', String(p), '--workers', '2']],
    ['the admin port, two workers', (p: number) => ['--port', '0', '--admin-port', String(p), '--workers', '2']],
  ])('%s: exit 1, one line naming the port and what to do', async (_name, flags) => {
    const port = await holdPort()
    const exit = await tiercache(['edge', ...ORIGIN, ...flags(port)], { TIERCACHE_PURGE_TOKEN: undefined }).exited
    expect({ code: exit.code, out: exit.out }).toEqual({ code: 1, out: '' })
    expect(hasStack(exit.err), exit.err).toBe(false)
    expect(exit.err.trimEnd().split('\n'), exit.err).toHaveLength(1)
    expect(exit.err).toContain(`port ${port} on 127.0.0.1 is already in use`)
    expect(exit.err).toContain('choose another port')
  })

  it('with a connected bus: the Redis connection does not keep the process running', async () => {
    const port = await holdPort()
    const flags = ['--port', String(port), '--workers', '1', '--bus', inject('redisUrl'), '--bus-namespace', `ports-${process.pid}-${Date.now()}`]
    const exit = await tiercache(['edge', ...ORIGIN, ...flags], { TIERCACHE_PURGE_TOKEN: undefined }).exited
    expect(exit.code).toBe(1)
    expect(exit.err).toContain(`port ${port} on 127.0.0.1 is already in use`)
  })
})
