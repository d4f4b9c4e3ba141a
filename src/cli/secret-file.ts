import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * Where tiercache keeps files that belong to this user and this machine (the demo's purge token):
 * `$TIERCACHE_STATE_DIR`, else `$XDG_STATE_HOME/tiercache`, else `~/.local/state/tiercache` (the
 * XDG base directory rule for state that need not survive a reinstall).
 */
export function stateDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TIERCACHE_STATE_DIR !== undefined && env.TIERCACHE_STATE_DIR !== '') return env.TIERCACHE_STATE_DIR
  const base = env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== '' ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state')
  return join(base, 'tiercache')
}

/**
 * Writes `secret` to `dir/name` so that only this user can read it: the file is written under a
 * temporary name with mode 0600 and renamed over the old one (a reader never sees half a token,
 * and a file left with wider permissions is replaced, not reused).
 * Returns the path and a `remove()` that deletes the file only while it still holds this secret,
 * so a stack stopping never deletes the token of one started after it.
 */
export async function writeSecretFile(dir: string, name: string, secret: string): Promise<{ path: string; remove(): Promise<void> }> {
  // 0700 when created; an existing directory is left as it is (it may be one the user shares on purpose).
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, name)
  const temporary = join(dir, `.${name}.${randomBytes(6).toString('hex')}`)
  await writeFile(temporary, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  await rename(temporary, path)
  return {
    path,
    remove: async () => {
      const current = await readFile(path, 'utf8').catch(() => undefined)
      if (current?.trim() === secret) await rm(path, { force: true })
    },
  }
}
