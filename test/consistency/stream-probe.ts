/**
 * The limit for propagation latency on this machine, measured in the same run: a bare ioredis
 * `XADD` in the orchestrator → a blocking `XREAD` in this child process, on the run's Redis, with
 * no cache in between. Each message carries its send time (epoch ms, sub-millisecond); this
 * process records receive - send. Started by orchestrator.ts with `child_process.fork`.
 *
 * IPC: receives `{ cmd: 'start', url, stream }`, answers `{ ready: true }` once its first XREAD
 * is about to block; on `{ cmd: 'report' }` answers `{ samples: [sentAt, receivedAt][] }` and exits.
 */
import { Redis } from 'ioredis'
import { wallNow } from './protocol.js'

let reader: Redis | undefined
let stopped = false
const samples: [number, number][] = []

async function follow(url: string, stream: string): Promise<void> {
  reader = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 50 })
  reader.on('error', () => {})
  let cursor = '$'
  let announced = false
  while (!stopped) {
    try {
      if (!announced) {
        announced = true
        process.send?.({ ready: true })
      }
      const reply = await reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', stream, cursor)
      const received = wallNow()
      for (const [id, fields] of reply?.[0]?.[1] ?? []) {
        cursor = id
        const sent = Number(fields[1])
        if (Number.isFinite(sent)) samples.push([sent, received])
      }
    } catch {
      // Redis restarted or the connection was killed: the probe resumes; its samples skip the gap.
      cursor = '$'
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

process.on('message', (message: { cmd: 'start'; url: string; stream: string } | { cmd: 'report' }) => {
  if (message.cmd === 'start') {
    void follow(message.url, message.stream)
  } else {
    stopped = true
    process.send?.({ samples }, () => {
      reader?.disconnect()
      process.disconnect()
    })
  }
})
process.on('disconnect', () => {
  stopped = true
  reader?.disconnect()
  setTimeout(() => process.exit(0), 100).unref()
})
