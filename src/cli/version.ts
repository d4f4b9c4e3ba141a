import { readFileSync } from 'node:fs'

/**
 * The installed tiercache version, read from the package's own package.json (two levels up from
 * both `src/cli` and `dist/cli`, so it is right from the sources and from the published package).
 */
export function tiercacheVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
