import { ManualClock } from '../../src/core/manual-clock.js'
import { LruStore } from '../../src/l1/lru-store.js'
import { TinyLfuStore } from '../../src/l1/tinylfu/tinylfu-store.js'
import { describeStoreContract } from '../contract/store-contract.js'

// Both L1 policies behind the same port, on a manual clock.
for (const [name, Store] of [['LruStore', LruStore], ['TinyLfuStore', TinyLfuStore]] as const) {
  describeStoreContract(`${name} (memory)`, async () => {
    const clock = new ManualClock()
    const store = new Store({ maxBytes: 16 * 1024 * 1024, clock })
    const other = new Store({ maxBytes: 16 * 1024 * 1024, clock })
    return {
      store,
      other,
      clock,
      advance: (ms) => clock.advance(ms),
      cleanup: async () => { store.close(); other.close() },
    }
  })
}
