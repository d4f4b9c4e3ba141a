import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { RedisStreamBus } from '../../src/redis/stream-bus.js'
import { fakeFastly } from '../helpers/cdn-apis.js'
import { freshNamespace } from '../helpers/namespace.js'
import { until } from '../helpers/until.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!()
})

function tiercache(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; out: string; err: string }>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.once('exit', (code) => resolve({ code, out, err })))
  closers.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await done
  })
  return { child, done, output: () => out }
}

async function configFile(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiercache-cdn-'))
  closers.push(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'cdn.json')
  await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config))
  return path
}

describe('tiercache cdn-purger', () => {
  it('prints its help, and exits 2 naming the field of a bad configuration', async () => {
    const help = await tiercache(['cdn-purger', '--help']).done
    expect(help.code).toBe(0)
    expect(help.out).toMatch(/^usage: tiercache cdn-purger --config FILE/)
    const missing = await tiercache(['cdn-purger']).done
    expect(missing.code).toBe(2)
    expect(missing.err).toMatch(/--config is required/)
    const bad = await tiercache(['cdn-purger', '--config', await configFile({ namespace: 'x', providers: [{ type: 'nginx', purgeUrl: 'http://127.0.0.1:1' }] })]).done
    expect(bad.code).toBe(2)
    expect(bad.err.trim()).toMatch(/^tiercache cdn-purger: E_CDN_CONFIG: .*cdn\.json: providers\[0\]\.host: expected a non-empty string/)
    const notJson = await tiercache(['cdn-purger', '--config', await configFile('{')]).done
    expect(notJson.code).toBe(2)
    expect(notJson.err).toMatch(/is not valid JSON/)
    const check = await tiercache(['cdn-purger', '--check', '--config', await configFile({ namespace: 'x', providers: [{ type: 'varnish', url: 'http://127.0.0.1:6081' }] })]).done
    expect(check.code).toBe(0)
    expect(check.out).toMatch(/configuration ok: would follow namespace "x" .* and purge varnish \(varnish\)/)
  })

  it('follows the bus, purges, stops on SIGTERM with its counts, and lists dead letters', async () => {
    const api = await fakeFastly({ serviceId: 'svc', token: 'tok', host: 'shop.test' })
    closers.push(() => api.close())
    const namespace = freshNamespace('cdn-cli')
    const config = await configFile({
      namespace, redis: inject('redisUrl'), retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
      providers: [{ type: 'fastly', serviceId: 'svc', host: 'shop.test', apiUrl: api.url }],
    })
    const run = tiercache(['cdn-purger', '--config', config], { FASTLY_API_TOKEN: 'tok' })
    await until(() => run.output().includes('following namespace'), 'the start line', 30_000)
    const bus = new RedisStreamBus({ redis: inject('redisUrl'), namespace })
    closers.push(() => bus.close())
    await bus.publish({ tags: ['product:42'], origin: 't', at: Date.now() })
    await until(() => api.requests.length === 1, 'the purge', 30_000)
    expect(api.requests[0]!.headers['surrogate-key']).toBe('product:42')
    api.failNext(2, 500)
    await bus.publish({ tags: ['product:43'], origin: 't', at: Date.now() })
    await until(() => api.requests.length === 3, 'two failed tries', 30_000)
    run.child.kill('SIGTERM')
    const result = await run.done
    expect(result.code).toBe(0)
    expect(result.out).toMatch(/stopped after 1 purge requests \(1 retries, 1 dead-lettered\)/)
    expect(result.err).toMatch(/purge failed: .*500.*dead-lettered/)
    const letters = await tiercache(['cdn-purger', '--config', config, '--dead-letters'], { FASTLY_API_TOKEN: 'tok' }).done
    expect(letters.code).toBe(0)
    const lines = letters.out.trim().split('\n').map((l) => JSON.parse(l) as { items: string[]; purger: string })
    expect(lines).toMatchObject([{ purger: 'fastly', items: ['product:43'] }])
  })
})
