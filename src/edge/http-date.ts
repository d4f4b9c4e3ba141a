/**
 * HTTP-date parsing (RFC 9110 §5.6.7). Recipients must accept all three formats: IMF-fixdate,
 * the obsolete RFC 850 form and ANSI C asctime(). Anything else is invalid (NaN), and callers treat
 * an invalid Expires as "already expired" (RFC 9111 §5.3).
 */

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
}

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/

/** Epoch milliseconds of an HTTP-date, or NaN when `value` is not one. */
export function parseHttpDate(value: string | undefined): number {
  if (value === undefined) return Number.NaN
  const text = value.trim()
  let m = IMF.exec(text)
  if (m !== null) return build(Number(m[3]), m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  m = RFC850.exec(text)
  if (m !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    let year = 2000 + Number(m[3])
    if (year > new Date().getUTCFullYear() + 50) year -= 100
    return build(year, m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  }
  m = ASCTIME.exec(text)
  if (m !== null) return build(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), m[3] as string, m[4] as string, m[5] as string)
  return Number.NaN
}

function build(year: number, month: string, day: number, h: string, min: string, s: string): number {
  const mon = MONTHS[month]
  if (mon === undefined) return Number.NaN
  const hours = Number(h)
  const minutes = Number(min)
  const seconds = Number(s)
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return Number.NaN
  const ms = Date.UTC(year, mon, day, hours, minutes, seconds)
  // Date.UTC rolls 31 Feb into March: reject dates that do not exist.
  if (new Date(ms).getUTCDate() !== day) return Number.NaN
  return ms
}

/** Formats epoch milliseconds as an IMF-fixdate. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString()
}
