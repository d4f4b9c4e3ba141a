/**
 * Conformance: runs the HTTP caching test suite (npm `http-cache-tests` 0.4.5, cache-tests.fyi)
 * against the edge and compares with `baseline.json`, so a regression fails the run.
 *
 *   npm run test:conformance              run, print counts, fail on regressions
 *   npm run test:conformance -- --update  rewrite baseline.json from this run
 *   npm run test:conformance -- --id ID   run one test and print its exchange
 *   npm run test:conformance -- --suite DIR   run another copy of the suite (a newer one, with more
 *                                             tests); reports counts, never compares with the baseline
 *
 * The suite's origin server and client run as child processes (they are the suite's own code);
 * the edge runs here with `edge.config.json`, the default distribution adjusted for the suite:
 * all query strings keyed (the suite's URLs differ by query), no default TTL (the suite expects
 * responses without freshness information not to be reused; RFC 9111's 10% Last-Modified
 * heuristic instead), and three request headers forwarded unkeyed: the suite's request counter
 * `Req-Num`, `Authorization` (stored only per RFC 9111 §3.5) and `Abc` (a header its origin
 * varies on). Every security rule stays on (Set-Cookie responses are not stored, for example).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Logger } from '../../src/ports/logger.js'
import { createEdge, loadEdgeConfig } from '../../src/edge/index.js'
import type { Verdict } from './score.js'
import { REFERENCE_FILES, countByKind, loadSuite, scoreResults } from './score.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const { values } = parseArgs({ options: { update: { type: 'boolean' }, id: { type: 'string' }, suite: { type: 'string' } } })
const suiteDir = values.suite ?? join(here, '../../node_modules/http-cache-tests')
const baselineFile = join(here, 'baseline.json')

interface Baseline {
  readonly suite: string
  readonly required: { readonly pass: number; readonly fail: number }
  /** Every test's verdict; a test whose verdict gets worse is a regression. */
  readonly verdicts: Readonly<Record<string, Verdict>>
}

/**
 * Tests of 0.4.5 whose expectation RFC 9111 §5.1 and the current upstream suite reversed: 0.4.5
 * wants a response with an invalid `Age` (`abc`, `-7200`, `7200.0`, `7200;foo=bar`) or a list
 * (`0, 0`, two lines) treated as stale; RFC 9111 §5.1 says a list counts by its first member and
 * an invalid value is ignored (the response is served from cache), and upstream now expects that.
 * Their verdicts are printed but never count as regressions, nor among the required failures.
 */
const SUPERSEDED: ReadonlySet<string> = new Set([
  'age-parse-nonnumeric', 'age-parse-negative', 'age-parse-float', 'age-parse-prefix-twoline', 'age-parse-dup-0',
  'age-parse-dup-0-twoline', 'age-parse-dup-old', 'age-parse-parameter', 'age-parse-numeric-parameter',
])

const RANK: Readonly<Record<Verdict, number>> = {
  pass: 3, yes: 3, no: 2, optional_fail: 1, fail: 0, setup_fail: 0, dependency_fail: 0, retry: 0, harness_fail: 0, untested: 0,
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function startSuiteServer(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['server/server.mjs'], {
      cwd: suiteDir,
      env: { ...process.env, npm_config_port: String(port), npm_config_protocol: 'http', npm_config_pidfile: join(tmpdir(), `http-cache-tests-${port}.pid`) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`suite server exited with ${String(code)}`)))
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Listening on')) resolve(child)
    })
  })
}

function runSuiteClient(base: string, id: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', 'cli.mjs'], {
      cwd: suiteDir,
      env: { ...process.env, npm_config_base: base, npm_config_id: id, npm_package_config_id: id },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`suite client exited with ${String(code)}`))))
  })
}

/** The suite provokes warnings on purpose (bad origins, odd headers); an internal error is a bug and is shown. */
const errorsOnly: Logger = {
  warn: () => {},
  error: (context, message) => { console.error(`edge error: ${message} ${JSON.stringify(context)}`) },
}

async function main(): Promise<number> {
  const started = performance.now()
  const port = await freePort()
  const server = await startSuiteServer(port)
  const { bus: _bus, port: _port, host: _host, ...config } = await loadEdgeConfig(join(here, 'edge.config.json'))
  const edge = createEdge({ ...config, origin: `http://127.0.0.1:${port}`, logger: errorsOnly, id: 'conformance-edge' })
  try {
    const base = await edge.listen(0)
    const output = await runSuiteClient(base, values.id ?? '')
    if (values.id !== undefined) {
      console.log(output)
      return 0
    }
    const suite = await loadSuite(suiteDir)
    const results = JSON.parse(output) as Record<string, unknown>
    const verdicts = scoreResults(suite, results)
    const counts = countByKind(suite, verdicts)
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    console.log(`http-cache-tests ${suite.version} against tiercache edge (${seconds} s)`)
    console.log(`  required: ${counts.required.pass} pass / ${counts.required.fail} fail (+${counts.required.other} dependency or setup failures)`)
    console.log(`  required failures not counting the ${SUPERSEDED.size} tests RFC 9111 §5.1 superseded: ${Object.entries(verdicts)
      .filter(([id, v]) => suite.kinds.get(id) === 'required' && v === 'fail' && !SUPERSEDED.has(id)).length}`)
    console.log(`  optional: ${counts.optimal.pass} pass / ${counts.optimal.fail} not optimal; checks: ${counts.check.pass} yes / ${counts.check.fail} no`)
    console.log('  references scored the same way from the results shipped with this release:')
    for (const name of REFERENCE_FILES) {
      const ref = countByKind(suite, scoreResults(suite, JSON.parse(await readFile(join(suiteDir, 'results', `${name}.json`), 'utf8')) as Record<string, unknown>))
      console.log(`    ${name.padEnd(14)} required ${ref.required.pass} pass / ${ref.required.fail} fail`)
    }
    const failing = Object.entries(verdicts).filter(([id, v]) => suite.kinds.get(id) === 'required' && v !== 'pass' && !SUPERSEDED.has(id))
    const superseded = Object.entries(verdicts).filter(([id, v]) => SUPERSEDED.has(id) && v !== 'pass').map(([id]) => id)
    const st = edge.stats()
    console.log(`  edge: ${st.originRequests} origin requests, ${st.originErrors} errors, ${st.originTimeouts} timeouts, ${st.staleIfError} stale-if-error, ${st.collapsed} collapsed`)
    console.log(`  required not passing:${failing.length === 0 ? ' none' : ''}`)
    for (const [id, v] of failing) {
      const detail = Array.isArray(results[id]) ? (results[id] as unknown[])[1] : ''
      console.log(`    ${id} (${v}): ${String(detail)}`)
    }
    if (values.suite !== undefined) return 0
    if (values.update === true) {
      const baseline: Baseline = { suite: suite.version, required: { pass: counts.required.pass, fail: counts.required.fail }, verdicts: Object.fromEntries(Object.entries(verdicts).sort()) }
      await writeFile(baselineFile, `${JSON.stringify(baseline, null, 2)}\n`)
      console.log(`baseline written to ${baselineFile}`)
      return 0
    }
    const baseline = JSON.parse(await readFile(baselineFile, 'utf8')) as Baseline
    const regressions = Object.entries(baseline.verdicts)
      .filter(([id, before]) => !SUPERSEDED.has(id) && RANK[verdicts[id] ?? 'untested'] < RANK[before])
      .map(([id, before]) => `${id}: ${before} -> ${verdicts[id] ?? 'untested'}`)
    const improvements = Object.entries(verdicts).filter(([id, now]) => RANK[now] > RANK[baseline.verdicts[id] ?? 'untested']).map(([id]) => id)
    if (superseded.length > 0) console.log(`  failing as RFC 9111 §5.1 requires (superseded expectations): ${superseded.join(', ')}`)
    if (improvements.length > 0) console.log(`  better than the baseline (run with --update to record): ${improvements.join(', ')}`)
    if (regressions.length > 0) {
      console.error(`\nconformance regressions against baseline.json:\n  ${regressions.join('\n  ')}`)
      return 1
    }
    console.log('  no regressions against baseline.json')
    return 0
  } finally {
    await edge.close()
    server.kill()
  }
}

main().then((code) => { process.exitCode = code }, (error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
