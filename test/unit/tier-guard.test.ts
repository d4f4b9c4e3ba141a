import { connect, createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { SystemClock } from '../../src/core/clock.js'
import { ManualClock, flushMicrotasks } from '../../src/core/manual-clock.js'
import { silentLogger } from '../../src/core/logger.js'
import { TierGuard } from '../../src/core/tier-guard.js'

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b })
  return { promise, resolve, reject }
}

describe('TierGuard', () => {
  it('answers each of 1,000 concurrent calls exactly once: value, fallback on error, fallback on timeout', async () => {
    const clock = new ManualClock()
    const guard = new TierGuard('test', { timeoutMs: 100, threshold: 10_000, cooldownMs: 1_000, clock, logger: silentLogger })
    const calls = Array.from({ length: 1000 }, () => deferred<string>())
    const answers: (string | undefined)[] = new Array<undefined>(1000).fill(undefined)
    const settled = calls.map((c, i) => guard.run(() => c.promise, 'fallback').then((v) => { answers[i] = v }))
    // A third answer, a third fail, a third hang (the ring grew past its 256 slots meanwhile).
    calls.forEach((c, i) => {
      if (i % 3 === 0) c.resolve(`v${i}`)
      else if (i % 3 === 1) c.reject(new Error('boom'))
    })
    await flushMicrotasks()
    expect(guard.stats.errors).toBe(333)
    expect(guard.stats.timeouts).toBe(0)
    await clock.advance(99)
    expect(guard.stats.timeouts).toBe(0)
    await clock.advance(100)
    await Promise.all(settled)
    expect(guard.stats.timeouts).toBe(333)
    answers.forEach((a, i) => expect(a).toBe(i % 3 === 0 ? `v${i}` : 'fallback'))
    // Late answers after a timeout change nothing.
    calls.forEach((c, i) => { if (i % 3 === 2) c.resolve('late') })
    await flushMicrotasks()
    expect(answers.filter((a) => a === 'late')).toHaveLength(0)
    guard.close()
  })

  it('maps the outcome inside the same promise, fallback included', async () => {
    const clock = new ManualClock()
    const guard = new TierGuard('test', { timeoutMs: 50, threshold: 5, cooldownMs: 1_000, clock, logger: silentLogger })
    const ok = guard.runWith({ get: (k: string) => Promise.resolve(k.toUpperCase()) }, 'abc', (v) => `[${String(v)}]`)
    expect(await ok).toBe('[ABC]')
    const hang = guard.runWith({ get: () => new Promise<string>(() => {}) }, 'x', (v) => `[${String(v)}]`)
    await clock.advance(100)
    expect(await hang).toBe('[undefined]')
    guard.close()
  })

  it('fails fast while the breaker is open and probes once after the cool-down', async () => {
    const clock = new ManualClock()
    const guard = new TierGuard('test', { timeoutMs: 50, threshold: 2, cooldownMs: 1_000, clock, logger: silentLogger })
    let reached = 0
    const failing = (): Promise<string> => { reached++; return Promise.reject(new Error('down')) }
    await guard.run(failing, 'f')
    await guard.run(failing, 'f')
    expect(guard.breakerState).toBe('open')
    expect(await guard.run(failing, 'f')).toBe('f')
    expect(reached).toBe(2)
    expect(guard.stats.skipped).toBe(1)
    await clock.advance(1_000)
    expect(await guard.run(() => Promise.resolve('up'), 'f')).toBe('up')
    expect(guard.breakerState).toBe('closed')
    guard.close()
  })
})

describe('TierGuard on the system clock', () => {
  it('an answer that arrived in time is not a timeout because this process was busy when the deadline passed', async () => {
    const server = createServer()
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
    const peer = await accepted
    const guard = new TierGuard('test', { timeoutMs: 50, threshold: 1, cooldownMs: 10_000, clock: new SystemClock(), logger: silentLogger })
    try {
      const answer = guard.run(() => new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(d.toString()))), 'fallback')
      // The answer is in this process's socket buffer at once; then the event loop is blocked past
      // the deadline (a GC pause, a long synchronous task): both the deadline and the answer are due.
      peer.write('answer')
      const until = Date.now() + 200
      while (Date.now() < until) { /* busy */ }
      expect(await answer).toBe('answer')
      expect(guard.stats.timeouts).toBe(0)
      expect(guard.breakerState).toBe('closed')
    } finally {
      guard.close()
      client.destroy()
      peer.destroy()
      server.close()
    }
  })
})
