/**
 * A real Redis Cluster on loopback, started from `redis-server --cluster-enabled yes` on free ports
 * and wired with CLUSTER ADDSLOTSRANGE / MEET / REPLICATE (no redis-cli needed). Stopped afterwards.
 */
import { Redis } from 'ioredis'
import { startRedisServer } from './services.js'

export interface ClusterNode {
  readonly port: number
  readonly id: string
  readonly role: 'master' | 'replica'
  stop(): Promise<void>
}

export interface StartedCluster {
  readonly nodes: readonly ClusterNode[]
  readonly seeds: { host: string; port: number }[]
  stop(): Promise<void>
}

const SLOTS = 16384

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`Redis Cluster: ${what} within ${timeoutMs}ms`)
}

/** Starts `masters` masters, each with `replicasPerMaster` replicas. */
export async function startRedisCluster(masters = 3, replicasPerMaster = 0): Promise<StartedCluster> {
  const total = masters * (1 + replicasPerMaster)
  const servers = await Promise.all(Array.from({ length: total }, () =>
    startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1500'] })))
  const clients = servers.map((s) => new Redis(s.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 }))
  try {
    const ids = await Promise.all(clients.map((c) => c.cluster('MYID')))
    const per = Math.ceil(SLOTS / masters)
    for (let m = 0; m < masters; m++) {
      const start = m * per
      const end = Math.min(SLOTS - 1, start + per - 1)
      await clients[m]!.call('CLUSTER', 'ADDSLOTSRANGE', String(start), String(end))
    }
    for (let i = 1; i < total; i++) await clients[i]!.call('CLUSTER', 'MEET', '127.0.0.1', String(servers[0]!.port))
    await until(async () => {
      const counts = await Promise.all(clients.map(async (c) => String(await c.call('CLUSTER', 'NODES')).trim().split('\n').length))
      return counts.every((n) => n === total)
    }, 15_000, 'nodes did not meet')
    for (let r = 0; r < replicasPerMaster; r++) {
      for (let m = 0; m < masters; m++) {
        const replica = masters + r * masters + m
        await clients[replica]!.call('CLUSTER', 'REPLICATE', ids[m]!)
      }
    }
    await until(async () => {
      const infos = await Promise.all(clients.map(async (c) => String(await c.call('CLUSTER', 'INFO'))))
      return infos.every((info) => info.includes('cluster_state:ok'))
    }, 20_000, 'state did not become ok')
    if (replicasPerMaster > 0) {
      await until(async () => {
        const infos = await Promise.all(clients.slice(masters).map(async (c) => String(await c.info('replication'))))
        return infos.every((info) => info.includes('master_link_status:up'))
      }, 20_000, 'replicas did not sync')
    }
    const nodes: ClusterNode[] = servers.map((s, i) => ({
      port: s.port,
      id: ids[i]!,
      role: i < masters ? 'master' : 'replica',
      stop: () => s.stop(),
    }))
    return {
      nodes,
      seeds: servers.slice(0, masters).map((s) => ({ host: '127.0.0.1', port: s.port })),
      stop: async () => { await Promise.all(servers.map((s) => s.stop())) },
    }
  } finally {
    for (const c of clients) c.disconnect()
  }
}
