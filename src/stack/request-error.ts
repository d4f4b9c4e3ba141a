/**
 * A request the demo app refuses: the status (400, 405, 413, 415), the part of the request at
 * fault (`field`: a body field, `id`, `body`, `content-type`, `query`) and the rule it broke. Sent
 * to the client as `{ error, field, rule }`; it never carries internals (the database's own error
 * text, a stack), which go to the log only, behind a plain 500.
 */
export class RequestError extends Error {
  override readonly name = 'RequestError'
  readonly status: number
  readonly field: string
  readonly rule: string
  readonly headers: Readonly<Record<string, string>>

  constructor(status: number, field: string, rule: string, message?: string, headers: Record<string, string> = {}) {
    super(message ?? `${field} must be ${rule}`)
    this.status = status
    this.field = field
    this.rule = rule
    this.headers = headers
  }
}
