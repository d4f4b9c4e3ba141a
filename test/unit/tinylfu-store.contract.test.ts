import { ManualClock } from '../../src/core/manual-clock.js'
import { TinyLfuStore } from '../../src/l1/tinylfu/tinylfu-store.js'
import { describeStoreContract } from '../contract/store-contract.js'

describeStoreContract('TinyLfuStore (memory)', async () => {
  const clock = new ManualClock()
  const store = new TinyLfuStore({ maxBytes: 16 * 1024 * 1024, clock })
  const other = new TinyLfuStore({ maxBytes: 16 * 1024 * 1024, clock })
  return {
    store,
    other,
    clock,
    advance: (ms) => clock.advance(ms),
    cleanup: async () => { store.close(); other.close() },
  }
})
