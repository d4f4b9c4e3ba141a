import { describe, expect, it } from 'vitest'
import { RemoteError, Rpc } from '../../src/cluster/rpc.js'
import { sumStats } from '../../src/cluster/sum-stats.js'

describe('sumStats: the whole deployment from each worker', () => {
  it('sums counters, per-worker gauges and histogram buckets; the worst breaker; any true; agreed strings kept', () => {
    const worker = (n: number, breaker: string, fenced: boolean) => ({
      id: `edge-${n}`, namespace: 'catalog', requests: 10 * n, results: { hit: n, miss: 1 },
      latency: { buckets: [n, 0, 2] }, storage: { entries: 5, bytes: 100 * n, breaker }, fenced, l2: undefined,
    })
    expect(sumStats([worker(1, 'closed', false), worker(2, 'open', false), worker(3, 'half-open', true)])).toEqual({
      id: 'edge-1,edge-2,edge-3', namespace: 'catalog', requests: 60, results: { hit: 6, miss: 3 },
      latency: { buckets: [6, 0, 6] }, storage: { entries: 15, bytes: 600, breaker: 'open' }, fenced: true, l2: undefined,
    })
  })

  it('a section only some workers have is summed over those; none at all is undefined', () => {
    expect(sumStats([{ l2: { hits: 2 } }, { l2: undefined }, { l2: { hits: 3 } }])).toEqual({ l2: { hits: 5 } })
    expect(sumStats([])).toBeUndefined()
  })
})

describe('Rpc: requests and events over one channel', () => {
  /** Two ends wired to each other through structured clone, as node:cluster's advanced serialization does. */
  function pair(): [Rpc, Rpc] {
    const a: Rpc = new Rpc((m) => { queueMicrotask(() => b.receive(structuredClone(m))); return true })
    const b: Rpc = new Rpc((m) => { queueMicrotask(() => a.receive(structuredClone(m))); return true })
    return [a, b]
  }

  it('answers requests with their types intact, reports a thrown error with its code, delivers events', async () => {
    const [primary, worker] = pair()
    primary.handle('wait', (xid) => ({ xid, at: new Date(0) }))
    primary.handle('purge', () => { throw Object.assign(new Error('bad selector'), { code: 'E_PURGE_INVALID' }) })
    expect(await worker.request('wait', 42n)).toEqual({ xid: 42n, at: new Date(0) })
    await expect(worker.request('purge')).rejects.toMatchObject({ name: 'RemoteError', code: 'E_PURGE_INVALID', message: 'bad selector' })
    await expect(worker.request('nobody')).rejects.toMatchObject({ code: 'E_RPC_UNKNOWN' })
    const seen: unknown[] = []
    worker.on('bus.message', (m) => seen.push(m))
    primary.emit('bus.message', { tags: ['a'] })
    primary.emit('bus.message', { tags: ['b'] })
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(seen).toEqual([{ tags: ['a'] }, { tags: ['b'] }])
  })

  it('a closed channel fails what waits and what is asked after, and ignores messages that are not its own', async () => {
    const [, worker] = pair()
    const waiting = worker.request('never-answered-because-closed')
    worker.receive({ t: 'res', id: 1, ok: true, value: 'not ours: no version field' })
    worker.close()
    await expect(waiting).rejects.toBeInstanceOf(RemoteError)
    await expect(worker.request('after')).rejects.toMatchObject({ code: 'E_WORKER_GONE' })
  })
})
