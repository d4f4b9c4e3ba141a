import { execFile } from 'node:child_process'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { requirePromtool } from './promtool.js'

/** A scrape parsed by a real Prometheus text-format parser, with lookups by name and labels. */
export interface Scrape {
  readonly text: string
  /** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
  value(name: string, labels?: Record<string, string>): number
  /** Every sample of `name` whose labels include `labels`. */
  samples(name: string, labels?: Record<string, string>): { labels: Record<string, string>; value: number }[]
  /** A histogram's count, sum and cumulative buckets (by `le`). */
  histogram(name: string, labels?: Record<string, string>): { count: number; sum: number; buckets: Record<string, number> }
  type(name: string): string
  names(): string[]
}

export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text)
  const family = (name: string) => {
    const f = families.find((x) => x.name === name)
    if (f === undefined) throw new Error(`no metric ${name} in the scrape`)
    return f
  }
  const matches = (have: Record<string, string> | undefined, want: Record<string, string>): boolean =>
    Object.entries(want).every(([k, v]) => have?.[k] === v)
  const scrape: Scrape = {
    text,
    samples: (name, labels = {}) => family(name).metrics.filter((m) => matches(m.labels, labels)).map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })),
    value: (name, labels = {}) => {
      const found = scrape.samples(name, labels)
      if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`)
      return found[0]!.value
    },
    histogram: (name, labels = {}) => {
      if (family(name).type !== 'HISTOGRAM') throw new Error(`${name} is not a histogram`)
      // The parser folds a histogram's series into one and drops their labels when there are
      // several label sets, so each sample line of the family is parsed on its own here.
      const lines = text.split('\n').filter((l) => l.startsWith(`${name}_bucket{`) || l.startsWith(`${name}_sum`) || l.startsWith(`${name}_count`))
      const parsed = lines.map((line) => {
        const sampleName = line.slice(0, line.search(/[{ ]/))
        const [f] = parsePrometheusTextFormat(`# TYPE ${sampleName} gauge\n${line}\n`)
        const m = f!.metrics[0]!
        return { sampleName, labels: m.labels ?? {}, value: Number(m.value) }
      }).filter((p) => matches(p.labels, labels))
      const series = new Set(parsed.map((p) => JSON.stringify(Object.entries(p.labels).filter(([k]) => k !== 'le').sort())))
      if (series.size !== 1) throw new Error(`expected one histogram ${name}${JSON.stringify(labels)}, found ${series.size}`)
      const one = (suffix: string) => parsed.find((p) => p.sampleName === `${name}${suffix}`)?.value ?? Number.NaN
      return {
        count: one('_count'),
        sum: one('_sum'),
        buckets: Object.fromEntries(parsed.filter((p) => p.sampleName === `${name}_bucket`).map((p) => [p.labels.le!, p.value])),
      }
    },
    type: (name) => family(name).type,
    names: () => families.map((f) => f.name),
  }
  return scrape
}

/** Runs `promtool check metrics` on a scrape: the format is valid and the names follow the conventions (it lints them). */
export async function promtoolCheckMetrics(text: string): Promise<{ ok: boolean; output: string }> {
  const promtool = requirePromtool()
  return new Promise((resolve) => {
    const child = execFile(promtool, ['check', 'metrics'], (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}` })
    })
    child.stdin?.end(text)
  })
}
