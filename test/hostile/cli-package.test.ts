/**
 * The package as an npm user gets it: `npm pack` (which builds), then an install of that tarball
 * into an empty project with `--omit=dev`, so none of the optional peers (ioredis, pg, PGlite) is
 * there. The tarball holds only what a user needs; the library imports with nothing else
 * installed; the CLI, asked for something that needs a missing package, names the package in one
 * line instead of printing a module-not-found trace.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasStack, root, stopAll, tiercache } from './cli-process.js'

const exec = promisify(execFile)
let dir: string
let tarball: string
let files: string[]

/**
 * A base directory with no node_modules in it or above it: Node resolves a package from every
 * ancestor's node_modules, so a project under such a directory would find the peers there and
 * prove nothing. (Someone's /tmp/node_modules is enough to do it.)
 */
function isolatedBase(): string {
  const clean = (dir: string): boolean => {
    for (let d = dir; ; d = dirname(d)) {
      if (existsSync(join(d, 'node_modules'))) return false
      if (dirname(d) === d) return true
    }
  }
  const base = [tmpdir(), '/var/tmp', homedir()].find(clean)
  if (base === undefined) throw new Error(`no directory without a node_modules above it among ${tmpdir()}, /var/tmp, ${homedir()}`)
  return base
}

beforeAll(async () => {
  dir = await mkdtemp(join(isolatedBase(), 'tiercache-package-'))
  // --ignore-scripts off on purpose: prepack builds dist, as it does for `npm publish`.
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, maxBuffer: 16 * 1024 * 1024 })
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[]
  tarball = join(dir, packed!.filename)
  files = packed!.files.map((f) => f.path).sort()
  const project = join(dir, 'project')
  await exec('mkdir', ['-p', project])
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, type: 'module' }))
  await exec('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: project })
}, 300_000)
afterAll(async () => {
  await stopAll()
  await rm(dir, { recursive: true, force: true })
})

const project = (): string => join(dir, 'project')
const bin = (): { file: string; args: string[]; cwd: string } => ({ file: join(project(), 'node_modules', '.bin', 'tiercache'), args: [], cwd: project() })

describe('the published package', () => {
  it('holds dist, README, LICENSE, CHANGELOG and package.json, and nothing else (no source maps pointing at missing sources)', () => {
    const outside = files.filter((f) => !f.startsWith('dist/') && !['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json'].includes(f))
    expect(outside).toEqual([])
    for (const required of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js',
      'dist/client/index.js', 'dist/client/service-worker.js']) {
      expect(files).toContain(required)
    }
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([])
    expect(files.filter((f) => f.includes('.test.'))).toEqual([])
  })

  it('says where it comes from and under which licence', async () => {
    const pkg = JSON.parse(await readFile(join(project(), 'node_modules', 'tiercache', 'package.json'), 'utf8')) as Record<string, unknown>
    expect(pkg).toMatchObject({
      license: 'MIT',
      repository: { type: 'git', url: 'git+https://github.com/tiercache/tiercache.git' },
      bugs: { url: 'https://github.com/tiercache/tiercache/issues' },
      homepage: 'https://github.com/tiercache/tiercache#readme',
    })
    expect(pkg.scripts).not.toHaveProperty('prepare')
    const licence = await readFile(join(project(), 'node_modules', 'tiercache', 'LICENSE'), 'utf8')
    expect(licence).toContain('MIT License')
    expect(licence).toContain('Copyright (c) 2026 the tiercache authors')
  })

  it('installs without ioredis, pg or PGlite, and the core imports without them', async () => {
    const { stdout } = await exec('npm', ['ls', '--all', '--parseable'], { cwd: project() }).catch((e: { stdout: string }) => e)
    for (const name of ['ioredis', 'pg', '@electric-sql/pglite']) expect(stdout).not.toMatch(new RegExp(`node_modules/${name.replace('/', '\\/')}$`, 'm'))
    await writeFile(join(project(), 'use.mjs'), [
      "import { createCache } from 'tiercache'",
      "const cache = createCache({ namespace: 'x', ttl: '1m' })",
      "await cache.set('k', { v: 1 })",
      "console.log(JSON.stringify(await cache.get('k')))",
      'await cache.close()',
    ].join('\n'))
    // The project cannot reach the peers by any path (so the assertions below prove something).
    for (const name of ['ioredis', 'pg', '@electric-sql/pglite']) {
      await expect(exec(process.execPath, ['--input-type=module', '-e', `await import('${name}')`], { cwd: project() })).rejects.toMatchObject({ stderr: expect.stringContaining('ERR_MODULE_NOT_FOUND') })
    }
    const ran = await exec(process.execPath, ['use.mjs'], { cwd: project() })
    expect(ran.stdout).toBe('{"v":1}\n')
  })

  it('tiercache --version and --help work from the installed bin', async () => {
    const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string }
    expect(await tiercache(['--version'], {}, bin()).exited).toMatchObject({ code: 0, out: `${version}\n` })
    expect((await tiercache(['start', '--help'], {}, bin()).exited).code).toBe(0)
  })

  it('tiercache start without PGlite: one line naming the package to install, exit 1', async () => {
    const { code, out, err } = await tiercache(['start', '--port', '0', '--app-port', '0'],
      { DATABASE_URL: undefined, REDIS_URL: undefined, TIERCACHE_STATE_DIR: join(dir, 'state') }, bin()).exited
    expect({ code, out }).toMatchObject({ code: 1 })
    expect(out).not.toContain('edge (use this)')
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain('E_DEPENDENCY_MISSING')
    expect(err).toContain('npm install @electric-sql/pglite')
    expect(hasStack(err)).toBe(false)
  })

  it('tiercache start with DATABASE_URL and REDIS_URL but neither pg nor ioredis: one line naming both', async () => {
    const { code, err } = await tiercache(['start', '--port', '0', '--app-port', '0'],
      { DATABASE_URL: 'postgres://127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1', TIERCACHE_STATE_DIR: join(dir, 'state') }, bin()).exited
    expect(code).toBe(1)
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain('npm install pg ioredis')
    expect(hasStack(err)).toBe(false)
  })

  it('tiercache/metrics imports without prom-client, and says to install it where it is needed', async () => {
    await writeFile(join(project(), 'metrics.mjs'), [
      "import { createCache } from 'tiercache'",
      "import { createEdge } from 'tiercache/edge'",
      "import { collectMetrics } from 'tiercache/metrics'",
      "const cache = createCache({ namespace: 'x', ttl: '1m' })",
      'try { collectMetrics(cache) } catch (e) { console.log(e.code, e.context.package) }',
      "const edge = createEdge({ origin: 'http://127.0.0.1:1', admin: { port: 0 } })",
      'await edge.listen(0)',
      "const r = await fetch(edge.adminUrl + '/.tiercache/metrics')",
      'console.log(r.status, (await r.json()).error)',
      'await edge.close()',
      'await cache.close()',
    ].join('\n'))
    await expect(exec(process.execPath, ['--input-type=module', '-e', "await import('prom-client')"], { cwd: project() })).rejects.toMatchObject({ stderr: expect.stringContaining('ERR_MODULE_NOT_FOUND') })
    const ran = await exec(process.execPath, ['metrics.mjs'], { cwd: project() })
    expect(ran.stdout).toBe('E_DEPENDENCY_MISSING prom-client\n503 The metrics endpoint needs the prom-client package, which is not installed: run npm install prom-client\n')
  })

  it('tiercache edge --bus without ioredis: one line naming it', async () => {
    const { code, err } = await tiercache(['edge', '--origin', 'http://127.0.0.1:1', '--port', '0', '--bus', 'redis://127.0.0.1:1'], {}, bin()).exited
    // Not 0; the edge command picks the code itself for the typed errors it reports.
    expect(code).not.toBe(0)
    expect(err.trimEnd().split('\n'), err).toHaveLength(1)
    expect(err).toContain('npm install ioredis')
    expect(hasStack(err)).toBe(false)
  })
})
