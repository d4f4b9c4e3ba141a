/** Stable codes of the errors the browser client raises (callers branch on `code`). */
export const CLIENT_ERROR_CODES = {
  E_INVALID_OPTION: 'an option is missing, of the wrong type or out of range',
  E_INVALID_KEY: 'a state cache key is not a non-empty string of at most 512 characters',
  E_INVALID_TAG: 'a tag is not 1 to 200 visible ASCII characters without a comma',
  E_VALUE_NOT_SERIALIZABLE: 'the value cannot be stored as JSON (undefined, BigInt, a function, a cycle)',
  E_UNSUPPORTED: 'the browser lacks what the call needs (service workers, Cache Storage, IndexedDB, EventSource)',
} as const

export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES

/** An error the client layer raises on purpose, with a stable `code`. */
export class ClientError extends Error {
  override readonly name = 'TierCacheClientError'
  readonly code: ClientErrorCode

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
