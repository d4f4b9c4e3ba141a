import type { Logger } from '../ports/logger.js'

function format(context: Record<string, unknown>): string {
  return Object.keys(context).length === 0 ? '' : ` ${JSON.stringify(context)}`
}

/** Writes one line per event to stderr through `console`. */
export const consoleLogger: Logger = {
  warn: (context, message) => { console.warn(`[tiercache] ${message}${format(context)}`) },
  error: (context, message) => { console.error(`[tiercache] ${message}${format(context)}`) },
  info: (context, message) => { console.info(`[tiercache] ${message}${format(context)}`) },
}

/** Discards everything. */
export const silentLogger: Logger = {
  warn: () => {},
  error: () => {},
  info: () => {},
}
