#!/usr/bin/env node
/**
 * The `tiercache` command. Each subcommand lives in `commands/<name>.ts` and exports
 * `run(args: string[]): Promise<number>` (the exit code); it is loaded only when called, so
 * `tiercache plan` never loads the HTTP or Redis code.
 */
const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }>> = {}

/** Registers a subcommand (called from this file only, so the list reads in one place). */
function command(name: string, summary: string, load: () => Promise<{ run(args: string[]): Promise<number> }>): void {
  (COMMANDS as Record<string, unknown>)[name] = { summary, load }
}

// Subcommands register here.
command('edge', 'run the RFC 9111 caching reverse proxy (the CDN layer) in front of an origin', () => import('./commands/edge.js'))
command('purge', 'purge edge caches by tag, URL or prefix (published on the invalidation bus)', () => import('./commands/purge.js'))
command('start', 'run the demo stack (database, app with tiercache, edge) on embedded defaults', () => import('./commands/start.js'))
command('version', 'print the tiercache version', () => Promise.resolve({
  run: async () => {
    const { readFile } = await import('node:fs/promises')
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    console.log(pkg.version)
    return 0
  },
}))

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return ['usage: tiercache <command> [options]', '', 'commands:', ...lines, '', 'tiercache <command> --help for its options'].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return name === undefined ? 1 : 0
  }
  const entry = COMMANDS[name]
  if (entry === undefined) {
    console.error(`tiercache: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  const mod = await entry.load()
  return mod.run(args)
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error)
    process.exitCode = 1
  },
)
