/**
 * Runs the real `tiercache` command as a child process (from the sources, through tsx, as a user
 * of the repository does with `npm start`) and reads what it prints. Every child a test starts is
 * registered so the test can stop it: `stopAll()` in `afterEach`.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The repository's root. */
export const root = fileURLToPath(new URL('../..', import.meta.url))

/** A started `tiercache` process and what it printed so far. */
export interface CliProcess {
  readonly child: ChildProcess
  /** Everything written to stdout so far. */
  out(): string
  /** Everything written to stderr so far. */
  err(): string
  /** Resolves when the process exited, with its code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
}

const running = new Set<ChildProcess>()

/**
 * Starts `tiercache ...args`. `env` is merged over the test's environment; a key set to undefined
 * is removed (so a test can run with REDIS_URL unset).
 */
export function tiercache(args: string[], env: Record<string, string | undefined> = {}, command?: { file: string; args: string[]; cwd: string }): CliProcess {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
  const child = command === undefined
    ? spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(command.file, [...command.args, ...args], { cwd: command.cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child)
      resolve({ code, signal, out, err })
    })
  })
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    waitFor: (pattern) => new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = pattern.exec(out)
        if (m === null) return false
        child.stdout?.off('data', check)
        resolve(m)
        return true
      }
      if (check()) return
      child.stdout?.on('data', check)
      void exited.then(() => {
        if (!check()) reject(new Error(`tiercache ${args.join(' ')} exited before printing ${String(pattern)}\nstdout:\n${out}\nstderr:\n${err}`))
      })
    }),
  }
}

/** Runs `tiercache ...args` to completion. */
export function run(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return tiercache(args, env).exited
}

/** Kills every child still running (SIGKILL) and waits for each to exit. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => {
    const gone = new Promise((r) => child.once('close', r))
    child.kill('SIGKILL')
    return gone
  }))
}

/** True when `text` holds a JavaScript stack frame (what users must never see). */
export function hasStack(text: string): boolean {
  return /^\s+at .+\(.+:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m.test(text) || text.includes('node:internal')
}
