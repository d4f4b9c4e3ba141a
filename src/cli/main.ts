#!/usr/bin/env node
/**
 * The `tiercache` command. Each subcommand lives in `commands/<name>.ts` and exports
 * `run(args: string[]): Promise<number>` (the exit code); it is loaded only when called, so
 * `tiercache version` never loads the HTTP or Redis code.
 *
 * Exit codes: 0 done, 1 a run-time failure (a port in use, a service unreachable, a package
 * missing), 2 a usage error. Whatever a command throws is printed as one line (report-error.ts).
 */
import { runWorker, workerRole } from '../cluster/worker-main.js'
import type { WorkerHandle, WorkerLink } from '../cluster/worker-main.js'
import { didYouMean } from './did-you-mean.js'
import { reportError } from './report-error.js'
import { UsageError } from './usage-error.js'
import { tiercacheVersion } from './version.js'

interface Command {
  readonly summary: string
  load(): Promise<{ run(args: string[]): Promise<number> }>
}

const COMMANDS = new Map<string, Command>()

/** Registers a subcommand (called from this file only, so the list reads in one place). */
function command(name: string, summary: string, load: Command['load']): void {
  COMMANDS.set(name, { summary, load })
}

// Subcommands register here.
command('catalog', 'run the reference catalog service (PostgreSQL, tiercache reads, invalidation by change capture)', () => import('./commands/catalog.js'))
command('cdc', 'turn the database\'s committed changes into cache invalidations (outbox change capture)', () => import('./commands/cdc.js'))
command('cdn-purger', 'purge CDNs (Varnish, nginx, CloudFront, Cloudflare, Fastly) from the invalidation bus', () => import('./commands/cdn-purger.js'))
command('edge', 'run the RFC 9111 caching reverse proxy (the CDN layer) in front of an origin', () => import('./commands/edge.js'))
command('loadgen', 'offer a Zipf-skewed catalog load (open or closed loop) and report latency, errors and each layer\'s hit ratio', () => import('./commands/loadgen.js'))
command('plan', 'size a fleet from a traffic profile: origin misses, L1 and Redis memory, edge and app cores, Redis shards', () => import('./commands/plan.js'))
command('purge', 'purge edge caches by tag, URL or prefix (published on the invalidation bus)', () => import('./commands/purge.js'))
command('start', 'run the demo stack (database, app with tiercache, edge) on embedded defaults', () => import('./commands/start.js'))
command('version', 'print the tiercache version', () => import('./commands/version.js'))
command('warm', 'load the catalog\'s most popular products into Redis before traffic arrives', () => import('./commands/warm.js'))

function usage(): string {
  const lines = [...COMMANDS].map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return [
    'usage: tiercache <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'options (every command):',
    '  -h, --help      print the usage (tiercache <command> --help for its options)',
    '  -v, --version   print the tiercache version',
    '',
  ].join('\n')
}

/** True when `args` asks for the version: `--version` or `-v` anywhere before a `--`. */
function asksVersion(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false
    if (arg === '--version' || arg === '-v') return true
  }
  return false
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    process.stderr.write(usage())
    return 2
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage())
    return 0
  }
  if (asksVersion(argv)) {
    process.stdout.write(`${tiercacheVersion()}\n`)
    return 0
  }
  // `tiercache help start` is `tiercache start --help`.
  const [commandName, args] = name === 'help' ? [rest[0]!, ['--help']] : [name, rest]
  const entry = COMMANDS.get(commandName)
  if (entry === undefined) {
    const guess = didYouMean(commandName, COMMANDS.keys())
    throw new UsageError(undefined, `unknown ${commandName.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(commandName)}${guess === undefined ? '' : `; did you mean ${guess}?`}`)
  }
  current = commandName
  const mod = await entry.load()
  return mod.run(args)
}

let current: string | undefined

/**
 * A worker process of `--workers N` (node:cluster re-runs this file with the same arguments): it
 * runs the role the primary forked it for, from the command module that owns that role.
 */
async function worker(role: string): Promise<number> {
  const mod = await COMMANDS.get(role)?.load() as { worker?(link: WorkerLink): Promise<WorkerHandle> } | undefined
  if (mod?.worker === undefined) throw new Error(`unknown worker role ${role}`)
  const start = mod.worker.bind(mod)
  return runWorker((link) => start(link))
}

const role = workerRole()
if (role !== undefined) {
  current = role
  worker(role).then((code) => process.exit(code), (error: unknown) => {
    console.error(reportError(role, error).line)
    process.exit(1)
  })
} else main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (error: unknown) => {
    const { line, exitCode } = reportError(current, error)
    console.error(line)
    if (process.env.TIERCACHE_DEBUG !== undefined && process.env.TIERCACHE_DEBUG !== '' && error instanceof Error) console.error(error.stack)
    process.exitCode = exitCode
  },
)
