/**
 * `tiercache loadgen` and `tiercache plan` from the command line: every mistake is one line on
 * stderr naming the option, exit code 2, nothing on stdout; a run against a local server and a plan
 * print their summaries (and JSON with --json); counters that cannot be read are named, not fatal.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { hasStack, run, stopAll } from './cli-process.js'

afterEach(stopAll)
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve) })))
})

async function refused(args: string[], ...needles: string[]): Promise<void> {
  const { code, out, err } = await run(args)
  expect({ args, code, out }).toEqual({ args, code: 2, out: '' })
  expect(hasStack(err), err).toBe(false)
  expect(err.trimEnd().split('\n'), err).toHaveLength(1)
  for (const needle of needles) expect(err).toContain(needle)
}

describe('tiercache loadgen and plan refuse bad options in one line, exit code 2', () => {
  it.each([
    [['loadgen', '--rate', 'fast'], '--rate'],
    [['loadgen', '--rate', '0'], '--rate'],
    [['loadgen', '--writes', '150%'], '--writes'],
    [['loadgen', '--duration', '30'], '--duration'],
    [['loadgen', '--zipf', 'high'], '--zipf'],
    [['loadgen', '--keys', '-5'], '--keys'],
    [['loadgen', '--target', 'localhost:8080'], '--target'],
    [['loadgen', '--app', 'https://example.com'], '--app'],
    [['loadgen', '--edge-admin', 'http://127.0.0.1:9/x'], '--edge-admin'],
    [['loadgen', '--conections', '4'], 'did you mean --connections'],
    [['plan', '--rps', '1M', '--items', '10M'], '--hit-ratio'],
    [['plan', '--items', '10M', '--hit-ratio', '0.95'], '--rps'],
    [['plan', '--rps', '1M', '--items', '10M', '--hit-ratio', '95'], '--hit-ratio'],
    [['plan', '--rps', '1M', '--items', '10M', '--hit-ratio', '0.9', '--zipf', '1'], 'not both'],
    [['plan', '--rps', '10', '--items', '10', '--hit-ratio', '0.9', '--write-rate', '20'], '--write-rate'],
  ])('tiercache %j', async (args, needle) => {
    await refused(args, needle, `tiercache ${args[0]} --help`)
  })
})

describe('tiercache loadgen runs', () => {
  it('against a local server: the summary counts the requests; unreachable counters are named, not fatal', async () => {
    let received = 0
    const server = createServer((req, res) => {
      received++
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const { code, out, err } = await run(['loadgen', '--target', url, '--app', 'http://127.0.0.1:9', '--rate', '50', '--duration', '1s', '--keys', '20', '--json'])
    expect({ code, err }).toEqual({ code: 0, err: '' })
    const summary = JSON.parse(out) as { format: string; completed: number; statusClasses: Record<string, number>; layers: { edge: { unavailable?: string }; db: { unavailable?: string } } }
    expect(summary.format).toBe('tiercache-loadgen/1')
    expect(summary.completed).toBe(50)
    expect(received).toBe(50)
    expect(summary.statusClasses).toEqual({ '2xx': 50 })
    expect(summary.layers.db.unavailable).toContain('unreachable')
    expect(summary.layers.edge.unavailable).toContain('did not answer')
  })
})

describe('tiercache plan runs', () => {
  it('prints the figures with their formulas, and JSON with --json', async () => {
    const text = await run(['plan', '--rps', '1M', '--hit-ratio', '95%', '--items', '10M', '--item-bytes', '1KiB'])
    expect(text.code).toBe(0)
    expect(text.out).toContain('origin misses              50,000/s')
    expect(text.out).toContain('= reads × (1 − hit ratio) = 1,000,000 × (1 − 0.95)')
    expect(text.out).toMatch(/edge cores +\d+/)
    const json = await run(['plan', '--rps', '1000', '--zipf', '1', '--cache-items', '100', '--items', '10000', '--json'])
    const parsed = JSON.parse(json.out) as { format: string; plan: { hitRatio: { value: number; upperBound: boolean } } }
    expect(parsed.format).toBe('tiercache-plan/1')
    expect(parsed.plan.hitRatio.upperBound).toBe(true)
    expect(parsed.plan.hitRatio.value).toBeGreaterThan(0.5)
    expect(parsed.plan.hitRatio.value).toBeLessThan(0.6)
  })
})
