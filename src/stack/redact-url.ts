/**
 * A connection URL fit to print: the password replaced by `***`. A string that is not a URL comes
 * back as `(unparsable URL)` rather than as itself, since it may be a secret typed in the wrong place.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable URL)'
  }
}
