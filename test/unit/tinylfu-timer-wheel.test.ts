import { describe, expect, it } from 'vitest'
import { TimerWheel, WHEEL_TICK_MS } from '../../src/l1/tinylfu/timer-wheel.js'

const T0 = Date.UTC(2026, 0, 1)

/** The wheel reads deadlines back from its owner; this owner keeps them in a map. */
class Wheel {
  readonly deadlines = new Map<number, number>()
  readonly inner: TimerWheel
  constructor(capacity: number, onExpire: (slot: number) => void) {
    this.inner = new TimerWheel(T0, capacity, (slot) => this.deadlines.get(slot) as number, onExpire)
  }
  get size(): number { return this.inner.size }
  schedule(slot: number, deadline: number): void { this.deadlines.set(slot, deadline); this.inner.schedule(slot, deadline) }
  reschedule(slot: number, deadline: number): void { this.deadlines.set(slot, deadline); this.inner.reschedule(slot, deadline) }
  cancel(slot: number): void { this.inner.cancel(slot) }
  advance(now: number): void { this.inner.advance(now) }
  ensureCapacity(capacity: number): void { this.inner.ensureCapacity(capacity) }
}

function wheel(capacity = 64): { wheel: Wheel; expired: number[] } {
  const expired: number[] = []
  return { wheel: new Wheel(capacity, (slot) => expired.push(slot)), expired }
}

describe('TimerWheel', () => {
  it('expires a slot once its deadline has passed (within one ~1 s tick), never before', () => {
    const { wheel: w, expired } = wheel()
    w.schedule(1, T0 + 5_000)
    for (let now = T0; now < T0 + 5_000; now += 100) w.advance(now)
    expect(expired).toEqual([])
    for (let now = T0 + 5_000; now <= T0 + 5_000 + WHEEL_TICK_MS; now += 100) w.advance(now)
    expect(expired).toEqual([1])
    expect(w.size).toBe(0)
  })

  it('cascades long deadlines through the coarse wheels without expiring them early', () => {
    const { wheel: w, expired } = wheel()
    const deadlines = [90_000, 2 * 3_600_000, 30 * 3_600_000, 2.5 * 86_400_000, 10 * 86_400_000]
    deadlines.forEach((d, i) => w.schedule(i, T0 + d))
    // Walk time forward in uneven hops, checking nothing goes early and each goes once.
    let now = T0
    const seen = new Map<number, number>()
    while (now < T0 + 11 * 86_400_000) {
      now += 37_000 + (now % 7) * 1_000_000
      w.advance(now)
      for (const slot of expired.splice(0)) {
        expect(seen.has(slot)).toBe(false)
        expect(now).toBeGreaterThanOrEqual(T0 + (deadlines[slot] as number))
        seen.set(slot, now)
      }
    }
    expect([...seen.keys()].sort()).toEqual([0, 1, 2, 3, 4])
  })

  it('expires everything due in one big jump', () => {
    const { wheel: w, expired } = wheel(2048)
    for (let i = 0; i < 1000; i++) w.schedule(i, T0 + 1_000 + i * 7_919)
    w.advance(T0 + 1_000 + 499 * 7_919)
    expect(expired.length).toBe(500)
    expect(Math.max(...expired)).toBe(499)
    expect(w.size).toBe(500)
  })

  it('cancels and reschedules', () => {
    const { wheel: w, expired } = wheel()
    w.schedule(1, T0 + 2_000)
    w.schedule(2, T0 + 2_000)
    w.cancel(1)
    w.cancel(1)
    w.reschedule(2, T0 + 120_000)
    w.advance(T0 + 60_000)
    expect(expired).toEqual([])
    w.advance(T0 + 120_000)
    expect(expired).toEqual([2])
  })

  it('never schedules infinite deadlines and tolerates cancelling them', () => {
    const { wheel: w, expired } = wheel()
    w.schedule(3, Infinity)
    expect(w.size).toBe(0)
    w.cancel(3)
    w.advance(T0 + 100 * 86_400_000)
    expect(expired).toEqual([])
  })

  it('lets the expiry listener cancel or schedule other slots', () => {
    const expired: number[] = []
    const w: Wheel = new Wheel(16, (slot) => {
      expired.push(slot)
      if (slot === 1) w.cancel(2)
      if (slot === 1) w.schedule(5, T0 + 500)
    })
    w.schedule(1, T0 + 1_000)
    w.schedule(2, T0 + 1_001)
    w.schedule(3, T0 + 1_002)
    w.advance(T0 + 3_000)
    expect(expired).toContain(1)
    expect(expired).toContain(3)
    expect(expired).not.toContain(2)
    // Slot 5 was scheduled already past due: at the latest, the next tick reclaims it.
    w.advance(T0 + 3_000 + WHEEL_TICK_MS)
    expect(expired.sort()).toEqual([1, 3, 5])
  })

  it('grows without losing scheduled slots', () => {
    const { wheel: w, expired } = wheel(4)
    w.schedule(0, T0 + 10_000)
    w.ensureCapacity(1024)
    w.schedule(1000, T0 + 10_000)
    w.cancel(999)
    w.advance(T0 + 10_000)
    expect(expired.sort((a, b) => a - b)).toEqual([0, 1000])
  })
})
