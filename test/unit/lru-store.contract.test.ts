import { ManualClock } from '../../src/core/manual-clock.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { describeStoreContract } from '../contract/store-contract.js'

describeStoreContract('LruStore (memory)', async () => {
  const clock = new ManualClock()
  const store = new LruStore({ maxBytes: 16 * 1024 * 1024, clock })
  const other = new LruStore({ maxBytes: 16 * 1024 * 1024, clock })
  return {
    store,
    other,
    clock,
    advance: (ms) => clock.advance(ms),
    cleanup: async () => { store.close(); other.close() },
  }
})
