import { parseArgs } from 'node:util'
import { didYouMean } from './did-you-mean.js'
import { UsageError } from './usage-error.js'
import { tiercacheVersion } from './version.js'

/** One option of a subcommand, as `node:util` `parseArgs` takes it (no defaults: see {@link portValue}). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly short?: string
  readonly multiple?: boolean
}

/** What a subcommand accepts. `--help`/`-h` and `--version`/`-v` are added to every command. */
export interface CommandLine<O extends Record<string, OptionSpec>> {
  /** The subcommand's name, as typed after `tiercache`. */
  readonly command: string
  /** Its usage text, printed for `--help` (starts with `usage: tiercache <command>`). */
  readonly help: string
  readonly options: O
  /** How many positional arguments it takes (default 0). */
  readonly maxPositionals?: number
}

type Value<S extends OptionSpec> = S['type'] extends 'boolean'
  ? (S['multiple'] extends true ? boolean[] : boolean)
  : (S['multiple'] extends true ? string[] : string)

/** The parsed options (each undefined when not given) and positionals. */
export interface Parsed<O extends Record<string, OptionSpec>> {
  readonly values: { readonly [K in keyof O]?: Value<O[K]> }
  readonly positionals: readonly string[]
}

const STANDARD = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const satisfies Record<string, OptionSpec>

/**
 * Parses a subcommand's arguments strictly. Answers `--help` / `-h` (usage on stdout) and
 * `--version` / `-v` itself and then returns undefined: the command returns 0. Anything wrong
 * throws a {@link UsageError} whose message names the option and the fix (the CLI prints it as
 * one line and exits with 2): an unknown option (with the closest known one), a missing value, a
 * value given to a switch, a stray argument.
 *
 * ```ts
 * const parsed = parseCommandLine({ command: 'edge', help: HELP, options: { port: { type: 'string' } } }, args)
 * if (parsed === undefined) return 0
 * const port = portValue('edge', '--port', parsed.values.port, 8080)
 * ```
 */
export function parseCommandLine<O extends Record<string, OptionSpec>>(spec: CommandLine<O>, args: readonly string[]): Parsed<O> | undefined {
  const options = { ...spec.options, ...STANDARD }
  let parsed
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError(spec.command, describeParseError(error, Object.entries(options)))
  }
  const values = parsed.values as Record<string, unknown>
  if (values.help === true) {
    process.stdout.write(spec.help.endsWith('\n') ? spec.help : `${spec.help}\n`)
    return undefined
  }
  if (values.version === true) {
    process.stdout.write(`${tiercacheVersion()}\n`)
    return undefined
  }
  const max = spec.maxPositionals ?? 0
  const stray = parsed.positionals[max]
  if (stray !== undefined) throw new UsageError(spec.command, `unexpected argument ${JSON.stringify(stray)}`)
  const { help: _help, version: _version, ...own } = values
  return { values: own as Parsed<O>['values'], positionals: parsed.positionals }
}

/** Turns `parseArgs`'s errors (long, and in its own vocabulary) into a short line naming the option. */
function describeParseError(error: unknown, options: [string, OptionSpec][]): string {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  const named = /'(-[^' =]*)/.exec(message)?.[1] ?? '?'
  const flag = named.startsWith('--') || named.length !== 2 ? named : longName(named, options)
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = options.flatMap(([name]) => [`--${name}`])
      const guess = didYouMean(named, known)
      return `unknown option ${named}${guess === undefined ? '' : `; did you mean ${guess}?`}`
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(message)
        ? `${flag} is a switch and takes no value`
        : `${flag} needs a value (write ${flag}=VALUE for a value that starts with "-")`
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(/'([^']*)'/.exec(message)?.[1] ?? '')}`
    default:
      return message.split('\n')[0] ?? message
  }
}

function longName(short: string, options: [string, OptionSpec][]): string {
  const found = options.find(([, o]) => o.short === short.slice(1))
  return found === undefined ? short : `--${found[0]}`
}

/**
 * A TCP port from the command line or the environment: a decimal integer from 0 to 65535 (0 asks
 * the system for a free port), written with digits only, so `0x50`, `1e3`, `+80` and ` 80` are
 * refused rather than read as something the user did not mean. `fallback` when `raw` is undefined.
 * `flag` names the source in the message (`--port`, or `PORT` for the environment variable).
 */
export function portValue(command: string, flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(command, `${flag} must be a port number from 0 to 65535 (0 picks a free port), got ${JSON.stringify(raw)}`)
  }
  return port
}

/**
 * A decimal integer from `min` to `max`, digits only (see {@link portValue}); `fallback` when `raw`
 * is undefined.
 */
export function integerValue(command: string, flag: string, raw: string | undefined, range: { min: number; max: number }, fallback: number): number {
  if (raw === undefined) return fallback
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN
  if (!(value >= range.min && value <= range.max)) {
    throw new UsageError(command, `${flag} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`)
  }
  return value
}

/** A string option that must not be empty when given (`--host=`); `fallback` when `raw` is undefined. */
export function nonEmptyValue(command: string, flag: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback
  if (raw.trim() === '') throw new UsageError(command, `${flag} must not be empty`)
  return raw
}
