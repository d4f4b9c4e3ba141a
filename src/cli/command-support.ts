import type { Database } from '../db/database.js'
import type { Logger } from '../ports/logger.js'
import { redactUrl } from '../stack/redact-url.js'

/** What the long-running commands share: environment defaults, their log lines, the stop signal, the database. */

/** An environment variable's value, or undefined when it is unset or empty (`REDIS_URL=` means unset). */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** Warnings and errors as one stderr line each, prefixed with the command. */
export function commandLogger(command: string): Logger {
  const line = (context: Record<string, unknown>, message: string): void => { console.error(`tiercache ${command}: ${message} ${JSON.stringify(context)}`) }
  return { warn: line, error: line }
}

/** Resolves on the first SIGINT or SIGTERM (the handlers are removed then). */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

/** Opens a PostgreSQL server; a refused or failed connection is one `E_DATABASE_UNAVAILABLE` line, with the URL's password hidden. */
export async function connectPostgres(url: string): Promise<Database> {
  const { openPostgres } = await import('../db/pg-database.js')
  return openPostgres(url).catch((error: unknown) => {
    throw Object.assign(new Error(`cannot connect to PostgreSQL at ${redactUrl(url)} (${(error as { code?: string }).code ?? (error as Error).message})`), { code: 'E_DATABASE_UNAVAILABLE' })
  })
}
