/**
 * Vitest global setup for the integration project: real Redis, real PostgreSQL and a 3-master
 * Redis Cluster, found or started once per run and handed to tests through `inject()`.
 */
import type { TestProject } from 'vitest/node'
import { startRedisCluster } from './redis-cluster.js'
import type { StartedCluster } from './redis-cluster.js'
import { MissingServiceError, ensurePostgres, ensureRedis } from './services.js'
import type { Started } from './services.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
    databaseUrl: string
    clusterSeeds: { host: string; port: number }[]
  }
}

let started: Started[] = []
let cluster: StartedCluster | undefined

export async function setup(project: TestProject): Promise<void> {
  try {
    const [redis, postgres] = await Promise.all([ensureRedis(), ensurePostgres()])
    started = [redis, postgres]
    cluster = await startRedisCluster(3, 0)
    project.provide('redisUrl', redis.url)
    project.provide('databaseUrl', postgres.url)
    project.provide('clusterSeeds', cluster.seeds)
  } catch (error) {
    if (error instanceof MissingServiceError) {
      console.error(`\n[tiercache tests] cannot run the integration tests:\n  ${error.message}\n`)
    }
    await teardown()
    throw error
  }
}

export async function teardown(): Promise<void> {
  await cluster?.stop()
  cluster = undefined
  await Promise.all(started.map((s) => s.stop()))
  started = []
}
