import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { RedisFaults, SLOW_STALL_MS } from '../../src/dashboard/redis-faults.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
})

/** A listener standing in for the server's port: records what the slicer sends. */
async function listener(): Promise<{ port: number; received: () => string; connections: () => number }> {
  let text = ''
  let open = 0
  const server = createServer((socket) => {
    open++
    socket.on('data', (d) => { text += d.toString() })
    socket.on('close', () => { open-- })
  })
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as AddressInfo).port, received: () => text, connections: () => open }
}

/** The owned redis-server's signals, recorded (the real SIGSTOP and SIGCONT are tested through `tiercache start`). */
function ownedProcess(port: number): { port: number; hang(): void; resume(): void; calls: string[] } {
  const calls: string[] = []
  return { port, calls, hang: () => calls.push('hang'), resume: () => calls.push('resume') }
}

describe('RedisFaults', () => {
  it('stopped hangs the process; normal, slow and restore resume it', () => {
    const redis = ownedProcess(1)
    const faults = new RedisFaults(redis)
    faults.set('stopped')
    expect(faults.mode).toBe('stopped')
    expect(redis.calls.at(-1)).toBe('hang')
    faults.set('ok')
    expect(faults.mode).toBe('ok')
    expect(redis.calls.at(-1)).toBe('resume')
    faults.set('stopped')
    faults.restore()
    expect(faults.mode).toBe('ok')
    expect(redis.calls.at(-1)).toBe('resume')
  })

  it('slow sends CLIENT PAUSE stalls on a connection of its own, and leaving it closes that connection', async () => {
    const server = await listener()
    const faults = new RedisFaults(ownedProcess(server.port))
    faults.set('slow')
    expect(faults.mode).toBe('slow')
    while (!server.received().includes('\r\n')) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(server.received()).toMatch(new RegExp(`^CLIENT PAUSE ${SLOW_STALL_MS} ALL\\r\\n`))
    faults.restore()
    while (server.connections() > 0) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(faults.mode).toBe('ok')
  })
})
