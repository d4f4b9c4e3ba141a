/**
 * Why the demo stack could not start. Each carries a stable `code` (the CLI prints it with the
 * message and exits with 1) and the context a caller needs to say what to do.
 *
 * These codes are the stack's own, not in the core's catalogue (`TierCacheError`): the stack is
 * the demo that composes the library, and its failures are about this machine (a port, a service,
 * a package), not about the cache.
 */
export type StackErrorCode = 'E_PORT_IN_USE' | 'E_DATABASE_UNAVAILABLE' | 'E_DEPENDENCY_MISSING'

/** Base class of the stack's start-up errors. */
export class StackError extends Error {
  override readonly name: string = 'StackError'
  readonly code: StackErrorCode

  constructor(code: StackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** A listening port is taken (or not allowed). `role` says which server wanted it. */
export class PortInUseError extends StackError {
  override readonly name = 'PortInUseError'
  readonly port: number
  readonly host: string
  readonly role: 'edge' | 'app'

  constructor(role: 'edge' | 'app', port: number, host: string, cause: unknown) {
    const denied = (cause as { code?: unknown }).code === 'EACCES'
    super('E_PORT_IN_USE', `the ${role}'s port ${port} on ${host} is ${denied ? 'not allowed for this user' : 'already in use'}`, { cause })
    this.port = port
    this.host = host
    this.role = role
  }
}

/** The PostgreSQL server named by a URL did not accept a connection. The URL is shown without its password. */
export class DatabaseUnavailableError extends StackError {
  override readonly name = 'DatabaseUnavailableError'
  constructor(redactedUrl: string, cause: unknown) {
    const code = (cause as { code?: unknown }).code
    const reason = typeof code === 'string' ? code : cause instanceof Error ? cause.message : 'no answer'
    super('E_DATABASE_UNAVAILABLE', `cannot connect to PostgreSQL at ${redactedUrl} (${reason})`, { cause })
  }
}

/** An optional package the requested configuration needs is not installed. */
export class MissingDependencyError extends StackError {
  override readonly name = 'MissingDependencyError'
  /** The npm package names to install. */
  readonly packages: readonly string[]

  constructor(needs: readonly { package: string; for: string }[]) {
    const names = needs.map((n) => n.package)
    super('E_DEPENDENCY_MISSING', `${needs.map((n) => `${n.for} needs ${n.package}`).join(', ')}, not installed: npm install ${names.join(' ')}`)
    this.packages = names
  }
}
