/** What one load run offers: the schedule, the key space, the mix. Built by `parseLoadOptions` or by code. */
export interface LoadSpec {
  /** Base URL reads go to (`http://127.0.0.1:8080`, the edge). */
  readonly target: string
  /**
   * Base URL writes go to: the catalog itself (`http://127.0.0.1:3000`), since an edge, like a
   * CDN's API behavior, forwards only GET and HEAD on `/api/*`.
   */
  readonly writeTarget: string
  /**
   * `open`: requests leave on a timetable at `rate` per second whatever the answers do, and each
   * latency runs from the request's scheduled time (a stalled server shows as the stall, not as
   * one slow request). `closed`: `connections` clients each send the next request when the last
   * one is answered (the maximum rate; latency runs from the actual send).
   */
  readonly mode: 'open' | 'closed'
  /** Requests per second (open loop). */
  readonly rate: number
  /** Connections at most (open loop: the pool; closed loop: the clients). */
  readonly connections: number
  readonly durationMs: number
  /** Products 1..keys are requested. */
  readonly keys: number
  /** Zipf exponent of the key popularity (0 uniform; 1 the classic web skew). */
  readonly zipf: number
  /** Share of requests (0..1) that are writes: a PATCH of the product. */
  readonly writeShare: number
  /** A request with no answer for this long counts as a timeout. */
  readonly timeoutMs: number
  readonly seed: number
}

/** Paths of the catalog API the load uses. */
export const productPath = (id: number): string => `/api/products/${id}`
