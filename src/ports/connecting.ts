/**
 * A tier that connects to a server (the Redis store, the Redis bus). A cache used the moment it is
 * created waits for its tiers' first connection before its first calls (bounded by
 * `l2.connectTimeout`), so that fill leases and the bus hold from the first call on.
 */
export interface Connecting {
  /**
   * Settles once the first connection attempt is over: `true` when the tier is usable, `false`
   * when it is known to have failed (refused, no answer within the handshake budget, closed).
   * Never rejects. A tier that failed here may still connect later; calls then use it again.
   */
  whenConnected(): Promise<boolean>
}

/** True when `tier` reports its connection. */
export function isConnecting(tier: unknown): tier is Connecting {
  return typeof (tier as Partial<Connecting> | undefined)?.whenConnected === 'function'
}
