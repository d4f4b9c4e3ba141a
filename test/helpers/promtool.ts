import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The promtool binary, from PATH. Missing, the test fails (never skips) with what to install:
 * Debian's prometheus package ships it (`.ci/run` installs it when it is missing).
 */
export function requirePromtool(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'promtool')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  throw new Error('promtool is not installed: install the Debian package prometheus (apt-get install -y --no-install-recommends prometheus), which provides /usr/bin/promtool')
}
