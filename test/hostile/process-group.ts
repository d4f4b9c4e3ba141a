/**
 * A `tiercache` process started in a process group of its own (`detached`), so a test can check
 * that every process it started (workers, a redis-server) is gone after it stopped, and can kill
 * the whole group when a test fails.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { root } from './cli-process.js'

export interface GroupProcess {
  readonly child: ChildProcess
  readonly pid: number
  out(): string
  err(): string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with the first match of `pattern` in stdout (polled: each chunk may be partial); rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>
}

const started = new Set<number>()

/** Starts `tiercache ...args` as the leader of a new process group. Keys set to undefined in `env` are removed. */
export function tiercacheGroup(args: string[], env: Record<string, string | undefined> = {}): GroupProcess {
  const merged: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: merged, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const pid = child.pid!
  started.add(pid)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  let done = false
  void exited.then(() => { done = true })
  return {
    child, pid, exited,
    out: () => out,
    err: () => err,
    waitFor: async (pattern) => {
      for (;;) {
        const m = pattern.exec(out)
        if (m !== null) return m
        if (done) throw new Error(`tiercache ${args.join(' ')} exited before printing ${String(pattern)}\nstdout:\n${out}\nstderr:\n${err}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
  }
}

/** The pids of the live processes in process group `pgid` (zombies excluded). */
export function groupPids(pgid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' })
  return table.split('\n').flatMap((line) => {
    const [pid, group, stat] = line.trim().split(/\s+/)
    return Number(group) === pgid && stat !== undefined && !stat.startsWith('Z') ? [Number(pid)] : []
  })
}

/** True while a process with this pid exists (and is not a zombie). */
export function alive(pid: number): boolean {
  const table = execFileSync('ps', ['-eo', 'pid=,stat='], { encoding: 'utf8' })
  return table.split('\n').some((line) => {
    const [p, stat] = line.trim().split(/\s+/)
    return Number(p) === pid && stat !== undefined && !stat.startsWith('Z')
  })
}

/** The direct children of `pid`. */
export function childPids(pid: number): number[] {
  const table = execFileSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
  return table.split('\n').flatMap((line) => {
    const [p, parent] = line.trim().split(/\s+/)
    return Number(parent) === pid ? [Number(p)] : []
  })
}

/** SIGKILLs every group this module started that still has processes (afterEach, for failed tests). */
export function killGroups(): void {
  for (const pgid of started) {
    if (groupPids(pgid).length > 0) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
    started.delete(pgid)
  }
}
