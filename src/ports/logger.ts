/**
 * Where tiercache reports state changes: called once per change, never per request (the edge's
 * access log is the one per-request writer, and only when asked for).
 *
 * The argument order is pino's (and bunyan's): the structured context first, the message second,
 * so a pino or bunyan logger can be passed as it is and keeps the context as fields. A logger
 * written for `(message, context)` order (winston, console) needs a two-line adapter.
 */
export interface Logger {
  warn(context: Record<string, unknown>, message: string): void
  error(context: Record<string, unknown>, message: string): void
  /** Routine events (the access log). Optional: without it they are not written. */
  info?(context: Record<string, unknown>, message: string): void
}
