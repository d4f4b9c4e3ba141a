/**
 * A command line the user has to fix: an unknown option, a value of the wrong shape. The CLI prints
 * it as one line, `tiercache <command>: <message> (tiercache <command> --help)`, and exits with 2,
 * the usual code for a usage error; run-time failures exit with 1.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  /** Stable code, for callers that branch on it (the CLI does). */
  readonly code = 'E_USAGE'
  /** The subcommand whose usage was wrong (`start`), or undefined for `tiercache` itself. */
  readonly command: string | undefined

  constructor(command: string | undefined, message: string) {
    super(message)
    this.command = command
  }
}
