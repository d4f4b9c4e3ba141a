import { inject } from 'vitest'
import { systemClock } from '../../src/core/clock.js'
import { RedisStore } from '../../src/redis/redis-store.js'
import { describeStoreContract } from '../contract/store-contract.js'
import { freshNamespace } from '../helpers/namespace.js'

const realWait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describeStoreContract('RedisStore (standalone)', async () => {
  const store = new RedisStore({ redis: inject('redisUrl'), namespace: freshNamespace() })
  const other = new RedisStore({ redis: inject('redisUrl'), namespace: freshNamespace() })
  return {
    store,
    other,
    clock: systemClock,
    // Redis expires keys on its own clock: the only way to move it is to wait.
    advance: realWait,
    cleanup: async () => {
      await store.clear()
      await other.clear()
      await store.close()
      await other.close()
    },
  }
})

describeStoreContract('RedisStore (3-master Cluster)', async () => {
  const store = new RedisStore({ cluster: inject('clusterSeeds'), namespace: freshNamespace() })
  const other = new RedisStore({ cluster: inject('clusterSeeds'), namespace: freshNamespace() })
  return {
    store,
    other,
    clock: systemClock,
    advance: realWait,
    cleanup: async () => {
      await store.clear()
      await other.clear()
      await store.close()
      await other.close()
    },
  }
})
