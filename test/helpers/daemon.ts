import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * What the Varnish and nginx helpers share: finding a binary (or failing with the Debian package
 * to install), a free port, a private temporary directory, and a foreground daemon in its own
 * process group that is killed with everything it forked.
 */

/** `path` if it is executable; otherwise an error naming the Debian package that provides it. */
export function requireBinary(path: string, debianPackage: string): string {
  try {
    accessSync(path, constants.X_OK)
    return path
  } catch {
    throw new Error(`${path} is not installed: install the Debian package ${debianPackage} (apt-get install -y --no-install-recommends ${debianPackage}; .ci/run does it when it is missing)`)
  }
}

/** `path` if it exists; otherwise an error naming the Debian package that provides it. */
export function requireFile(path: string, debianPackage: string): string {
  try {
    accessSync(path, constants.R_OK)
    return path
  } catch {
    throw new Error(`${path} is missing: install the Debian package ${debianPackage} (apt-get install -y --no-install-recommends ${debianPackage}; .ci/run does it when it is missing)`)
  }
}

/** A TCP port nothing listens on right now (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

export function privateDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => { rmSync(path, { recursive: true, force: true }) } }
}

/** A daemon run in the foreground in its own process group; `stop` kills the group and waits. */
export interface Daemon {
  readonly child: ChildProcess
  /** What it wrote to stdout and stderr so far (for failure messages). */
  output(): string
  stop(): Promise<void>
}

export function startDaemon(command: string, args: readonly string[], cwd?: string): Daemon {
  const child = spawn(command, [...args], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (chunk: Buffer): void => { out = (out + chunk.toString()).slice(-8_000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => { resolve() })
  })
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL')
        } catch {}
      }
      await exited
    },
  }
}

/**
 * Resolves once `probe` succeeds; rejects with the daemon's output if it exits first or `timeoutMs`
 * passes (generous: the machine is shared).
 */
export async function waitForDaemon(daemon: Daemon, name: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) {
      throw new Error(`${name} exited (${daemon.child.exitCode ?? daemon.child.signalCode}) before it answered:\n${daemon.output()}`)
    }
    if (await probe().catch(() => false)) return
    if (Date.now() > deadline) {
      await daemon.stop()
      throw new Error(`${name} did not answer within ${timeoutMs}ms:\n${daemon.output()}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Waits until the daemon answers `probeUrl` (any HTTP status), then hands back the function that
 * stops it and removes its directory; if it never answers, it is stopped and the directory removed.
 */
export async function serving(daemon: Daemon, name: string, dir: { remove(): void }, probeUrl: string): Promise<() => Promise<void>> {
  try {
    await waitForDaemon(daemon, name, async () => (await fetch(probeUrl, { method: 'HEAD' })).status > 0)
  } catch (error) {
    dir.remove()
    throw error
  }
  return async () => {
    await daemon.stop()
    dir.remove()
  }
}
