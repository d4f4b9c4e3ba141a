import { UsageError } from './usage-error.js'

/**
 * Packages tiercache uses only for some commands, installed by the user when needed (optional peer
 * dependencies of the published package), with what each one is for.
 */
export const OPTIONAL_PACKAGES: Readonly<Record<string, string>> = {
  ioredis: 'Redis (L2, the invalidation bus)',
  pg: 'a PostgreSQL server (DATABASE_URL)',
  '@electric-sql/pglite': 'the embedded PostgreSQL',
  'pg-logical-replication': 'change capture in logical mode (tiercache cdc --mode logical)',
  '@aws-sdk/client-cloudfront': 'purging CloudFront (tiercache cdn-purger)',
  cloudflare: 'purging Cloudflare (tiercache cdn-purger)',
}

/**
 * Turns whatever a command threw into one line for stderr and an exit code: 2 for a usage error,
 * 1 for everything that went wrong while running. A stack trace is printed only when
 * `TIERCACHE_DEBUG` is set: a user needs the cause and the fix, not our call frames.
 */
export function reportError(command: string | undefined, error: unknown): { line: string; exitCode: number } {
  const prefix = command === undefined ? 'tiercache' : `tiercache ${command}`
  if (error instanceof UsageError) {
    const help = error.command === undefined ? 'tiercache --help' : `tiercache ${error.command} --help`
    return { line: `${error.command === undefined ? 'tiercache' : `tiercache ${error.command}`}: ${error.message} (${help})`, exitCode: 2 }
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown; port?: unknown; address?: unknown; syscall?: unknown }
  const message = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(error)
  // 'bind' is how node:cluster reports a worker's listen that the primary could not bind.
  if ((e.syscall === 'listen' || e.syscall === 'bind') && (e.code === 'EADDRINUSE' || e.code === 'EACCES')) {
    const where = `port ${String(e.port)}${typeof e.address === 'string' ? ` on ${e.address}` : ''}`
    return {
      line: e.code === 'EADDRINUSE'
        ? `${prefix}: ${where} is already in use: stop what uses it, or choose another port (0 picks a free one)`
        : `${prefix}: not allowed to listen on ${where}: choose a port above 1023`,
      exitCode: 1,
    }
  }
  if (e.code === 'ERR_MODULE_NOT_FOUND') {
    const missing = Object.keys(OPTIONAL_PACKAGES).find((name) => message.includes(`'${name}'`))
    if (missing !== undefined) {
      return { line: `${prefix}: ${OPTIONAL_PACKAGES[missing]} needs the package ${missing}, which is not installed: npm install ${missing}`, exitCode: 1 }
    }
  }
  if (typeof e.code === 'string' && /^E_[A-Z0-9_]+$/.test(e.code)) return { line: `${prefix}: ${e.code}: ${message}`, exitCode: 1 }
  return { line: `${prefix}: ${message} (set TIERCACHE_DEBUG=1 to see where it failed)`, exitCode: 1 }
}
