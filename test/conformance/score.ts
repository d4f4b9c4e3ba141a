import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** A test's outcome, as the suite's own display logic classifies it (lib/display.mjs). */
export type Verdict = 'pass' | 'fail' | 'optional_fail' | 'yes' | 'no' | 'setup_fail' | 'dependency_fail' | 'retry' | 'harness_fail' | 'untested'

interface SuiteTest {
  readonly id: string
  readonly kind?: 'required' | 'optimal' | 'check'
  readonly depends_on?: readonly string[]
  readonly browser_only?: boolean
}

/** The suite's tests (as the CLI runs them: browser-only tests excluded, Surrogate-Control added). */
export interface Suite {
  readonly version: string
  readonly tests: ReadonlyMap<string, SuiteTest>
  readonly kinds: ReadonlyMap<string, 'required' | 'optimal' | 'check'>
}

/** Implementations whose results ship with the suite (the references). */
export const REFERENCE_FILES = ['varnish', 'nginx', 'squid', 'trafficserver', 'apache', 'fastly'] as const

export async function loadSuite(dir: string): Promise<Suite> {
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string }
  const index = (await import(pathToFileURL(join(dir, 'tests/index.mjs')).href) as { default: { tests: SuiteTest[] }[] }).default
  const surrogate = (await import(pathToFileURL(join(dir, 'tests/surrogate-control.mjs')).href) as { default: { tests: SuiteTest[] } }).default
  const tests = new Map<string, SuiteTest>()
  const kinds = new Map<string, 'required' | 'optimal' | 'check'>()
  for (const group of [...index, surrogate]) {
    for (const t of group.tests) {
      if (t.browser_only === true) continue
      tests.set(t.id, t)
      kinds.set(t.id, t.kind ?? 'required')
    }
  }
  return { version: pkg.version, tests, kinds }
}

/** The suite's `determineTestResult`, dependencies honoured. */
export function scoreResults(suite: Suite, results: Readonly<Record<string, unknown>>): Record<string, Verdict> {
  const memo = new Map<string, Verdict>()
  const verdict = (id: string): Verdict => {
    const cached = memo.get(id)
    if (cached !== undefined) return cached
    const test = suite.tests.get(id)
    const result = results[id]
    let v: Verdict
    if (test === undefined || result === undefined) {
      v = 'untested'
    } else if ((test.depends_on ?? []).some((d) => !['pass', 'yes'].includes(verdict(d)))) {
      v = 'dependency_fail'
    } else if (Array.isArray(result) && result[0] === 'Setup') {
      v = result[1] === 'retry' ? 'retry' : 'setup_fail'
    } else if (result !== true && !(Array.isArray(result) && result[0] === 'Assertion')) {
      v = 'harness_fail'
    } else {
      const kind = test.kind ?? 'required'
      if (kind === 'required') v = result === true ? 'pass' : 'fail'
      else if (kind === 'optimal') v = result === true ? 'pass' : 'optional_fail'
      else v = result === true ? 'yes' : 'no'
    }
    memo.set(id, v)
    return v
  }
  return Object.fromEntries([...suite.tests.keys()].map((id) => [id, verdict(id)]))
}

export interface KindCounts {
  /** pass = pass / yes; fail = fail / optional_fail / no; other = dependency, setup, retry, harness, untested. */
  readonly required: { pass: number; fail: number; other: number }
  readonly optimal: { pass: number; fail: number; other: number }
  readonly check: { pass: number; fail: number; other: number }
}

export function countByKind(suite: Suite, verdicts: Readonly<Record<string, Verdict>>): KindCounts {
  const counts: KindCounts = { required: { pass: 0, fail: 0, other: 0 }, optimal: { pass: 0, fail: 0, other: 0 }, check: { pass: 0, fail: 0, other: 0 } }
  for (const [id, kind] of suite.kinds) {
    const v = verdicts[id] ?? 'untested'
    const c = counts[kind]
    if (v === 'pass' || v === 'yes') c.pass++
    else if (v === 'fail' || v === 'optional_fail' || v === 'no') c.fail++
    else c.other++
  }
  return counts
}
