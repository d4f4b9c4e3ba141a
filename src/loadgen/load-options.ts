import { parseDuration } from '../core/duration.js'
import type { LoadSpec } from './load-spec.js'

/** The raw option values of `tiercache loadgen` (strings as typed, undefined when not given). */
export interface LoadOptionValues {
  target?: string | undefined
  'write-target'?: string | undefined
  rate?: string | undefined
  connections?: string | undefined
  duration?: string | undefined
  keys?: string | undefined
  zipf?: string | undefined
  writes?: string | undefined
  timeout?: string | undefined
  seed?: string | undefined
}

/** A value the user has to fix; the message names the option and what it takes. */
export class LoadOptionError extends Error {
  override readonly name = 'LoadOptionError'
  readonly code = 'E_LOAD_OPTION'
}

export const LOAD_DEFAULTS = {
  target: 'http://127.0.0.1:8080',
  writeTarget: 'http://127.0.0.1:3000',
  connections: 64,
  durationMs: 30_000,
  keys: 1000,
  zipf: 1,
  writeShare: 0,
  timeoutMs: 10_000,
  seed: 1,
} as const

/**
 * Checks every option and builds the spec. `--rate` makes it open loop (with `--connections` as
 * the pool, default 64); without it, closed loop with `--connections` clients.
 */
export function parseLoadOptions(v: LoadOptionValues): LoadSpec {
  const target = httpUrl('--target', v.target ?? LOAD_DEFAULTS.target)
  const writeTarget = httpUrl('--write-target', v['write-target'] ?? LOAD_DEFAULTS.writeTarget)
  const rate = v.rate === undefined ? undefined : positiveNumber('--rate', v.rate, 1_000_000)
  const connections = v.connections === undefined ? LOAD_DEFAULTS.connections : integer('--connections', v.connections, 1, 10_000)
  const durationMs = v.duration === undefined ? LOAD_DEFAULTS.durationMs : duration('--duration', v.duration)
  const keys = v.keys === undefined ? LOAD_DEFAULTS.keys : integer('--keys', v.keys, 1, 100_000_000)
  const zipf = v.zipf === undefined ? LOAD_DEFAULTS.zipf : number('--zipf', v.zipf, 0, 5)
  const writeShare = v.writes === undefined ? LOAD_DEFAULTS.writeShare : percent('--writes', v.writes)
  const timeoutMs = v.timeout === undefined ? LOAD_DEFAULTS.timeoutMs : duration('--timeout', v.timeout)
  const seed = v.seed === undefined ? LOAD_DEFAULTS.seed : integer('--seed', v.seed, 0, 2 ** 32 - 1)
  return { target, writeTarget, mode: rate === undefined ? 'closed' : 'open', rate: rate ?? 0, connections, durationMs, keys, zipf, writeShare, timeoutMs, seed }
}

/** An http: URL with a host and nothing after the authority but `/`; returned without the trailing slash. */
export function httpUrl(flag: string, raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new LoadOptionError(`${flag} must be a URL such as http://127.0.0.1:8080, got ${JSON.stringify(raw)}`)
  }
  if (url.protocol !== 'http:') throw new LoadOptionError(`${flag} must be an http:// URL (https is not supported), got ${JSON.stringify(raw)}`)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw new LoadOptionError(`${flag} takes the server's base URL only (no path), got ${JSON.stringify(raw)}`)
  return url.origin
}

function number(flag: string, raw: string, min: number, max: number): number {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN
  if (!(value >= min && value <= max)) throw new LoadOptionError(`${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  return value
}

function positiveNumber(flag: string, raw: string, max: number): number {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN
  if (!(value > 0 && value <= max)) throw new LoadOptionError(`${flag} must be a number above 0 and at most ${max}, got ${JSON.stringify(raw)}`)
  return value
}

function integer(flag: string, raw: string, min: number, max: number): number {
  const value = /^\d{1,12}$/.test(raw) ? Number(raw) : NaN
  if (!(value >= min && value <= max)) throw new LoadOptionError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  return value
}

/** `5%` or `5` (percent) → 0.05. */
function percent(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)%?$/.exec(raw)
  const value = match === null ? NaN : Number(match[1])
  if (!(value >= 0 && value <= 100)) throw new LoadOptionError(`${flag} must be a percentage from 0% to 100% (such as 5%), got ${JSON.stringify(raw)}`)
  return value / 100
}

function duration(flag: string, raw: string): number {
  let ms: number
  try {
    ms = parseDuration(raw, flag)
  } catch {
    ms = NaN
  }
  if (!(ms > 0) || !/[a-z]$/.test(raw.trim())) throw new LoadOptionError(`${flag} must be a duration above 0 with a unit, such as 30s, 500ms or 2m, got ${JSON.stringify(raw)}`)
  return ms
}
