/** Where tiercache reports state changes. Called once per change, never per request. */
export interface Logger {
  warn(message: string, context?: Record<string, unknown>): void
  error(message: string, context?: Record<string, unknown>): void
}

/** Writes to stderr through `console`. */
export const consoleLogger: Logger = {
  warn: (message, context) => { console.warn(`[tiercache] ${message}`, context ?? '') },
  error: (message, context) => { console.error(`[tiercache] ${message}`, context ?? '') },
}

/** Discards everything. */
export const silentLogger: Logger = {
  warn: () => {},
  error: () => {},
}
