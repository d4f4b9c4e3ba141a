import { parseDuration } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'

/** An HTTP token (RFC 9110 §5.6.2): header names, methods, node ids. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** An optional object option: undefined, or a plain object. */
export function objectOption(value: unknown, option: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidOptionError(option, 'an object', value)
  return value as Record<string, unknown>
}

/** An optional positive integer option. */
export function positiveInt(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new InvalidOptionError(option, 'a positive integer', value)
  return value
}

/** An optional boolean option. */
export function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, 'a boolean', value)
  return value
}

/** An optional duration option, in ms. */
export function duration(value: unknown, option: string, fallback: number): number {
  return value === undefined ? fallback : parseDuration(value, option)
}
