/**
 * Invariant 4 across processes: 4 processes x 250 concurrent getOrSet of one missing key share
 * one load (single-flight inside each process, a fill lease in Redis between them), whether the
 * caches were warmed up first or are used the moment they are created.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { expect, inject, it } from 'vitest'
import { freshNamespace } from '../helpers/namespace.js'

interface Line { ready?: number; done?: number; results?: number; distinct?: string[] }

function startWorker(redisUrl: string, namespace: string, concurrency: number, mode: 'warm' | 'cold'): { child: ChildProcess; lines: AsyncIterator<Line> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/stampede-worker.ts', redisUrl, namespace, String(concurrency), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // Lines are queued as they arrive: readline drops lines nobody listens to yet.
  const queue: Line[] = []
  const waiting: ((line: Line) => void)[] = []
  createInterface({ input: child.stdout }).on('line', (text) => {
    if (!text.startsWith('{')) return
    const line = JSON.parse(text) as Line
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(line)
    else queue.push(line)
  })
  const lines: AsyncIterator<Line> = {
    next: () => {
      const line = queue.shift()
      if (line !== undefined) return Promise.resolve({ value: line, done: false })
      return new Promise((resolve) => waiting.push((value) => resolve({ value, done: false })))
    },
  }
  return { child, lines }
}

for (const mode of ['warm', 'cold'] as const) {
  const when = mode === 'warm' ? 'caches used once before' : 'caches created at the start signal and used at once (a deploy)'
  it(`4 processes x 250 concurrent getOrSet on a missing key, ${when}: the loader runs exactly once`, async () => {
    const redisUrl = inject('redisUrl')
    const namespace = freshNamespace('stampede')
    const redis = new Redis(redisUrl)
    const workers = Array.from({ length: 4 }, () => startWorker(redisUrl, namespace, 250, mode))
    try {
      for (const w of workers) expect((await w.lines.next()).value).toHaveProperty('ready')
      await redis.set(`${namespace}:go`, '1')
      const done = await Promise.all(workers.map(async (w) => (await w.lines.next()).value as Line))
      expect(done.map((d) => d.results)).toEqual([250, 250, 250, 250])
      expect(done.every((d) => d.distinct?.length === 1 && d.distinct[0] === 'the-value')).toBe(true)
      expect(Number(await redis.get(`${namespace}:loads`))).toBe(1)
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
      await redis.del(`${namespace}:go`, `${namespace}:loads`)
      redis.disconnect()
    }
  }, 60_000)
}
