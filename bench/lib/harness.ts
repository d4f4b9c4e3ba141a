/**
 * A small benchmark harness: every contender runs in the same process, rounds are interleaved
 * (A B C, A B C, ...) so background noise spreads over all of them, and results are reported as
 * the median with the min-max spread. Ratios are computed per round before taking the median.
 */

export interface Contender {
  readonly name: string
  /** Runs `ops` operations and resolves when done. */
  run(ops: number): Promise<void> | void
  /** Operations per round (slow peers get fewer so a round takes similar time). */
  readonly ops: number
}

export interface Result {
  readonly name: string
  /** Ops/s per round. */
  readonly rates: number[]
  /** This process's CPU time (user + system) per operation, in µs, per round. */
  readonly cpuPerOp: number[]
  readonly median: number
  readonly min: number
  readonly max: number
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** Runs every contender `rounds` times, interleaved, after one warm-up round each. */
export async function compare(contenders: readonly Contender[], rounds: number): Promise<Result[]> {
  for (const c of contenders) await c.run(Math.max(1, Math.floor(c.ops / 4)))
  const rates = contenders.map(() => [] as number[])
  const cpu = contenders.map(() => [] as number[])
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[i]!
      globalThis.gc?.()
      const cpuStart = process.cpuUsage()
      const start = process.hrtime.bigint()
      await c.run(c.ops)
      const ns = Number(process.hrtime.bigint() - start)
      const used = process.cpuUsage(cpuStart)
      rates[i]!.push(c.ops / (ns / 1e9))
      cpu[i]!.push((used.user + used.system) / c.ops)
    }
  }
  return contenders.map((c, i) => {
    const list = rates[i]!
    return { name: c.name, rates: list, cpuPerOp: cpu[i]!, median: median(list), min: Math.min(...list), max: Math.max(...list) }
  })
}

/** Per-round ratio of `a` to `b` (same round index), as median and spread. */
export function ratio(a: Result, b: Result): { median: number; min: number; max: number } {
  const per = a.rates.map((rate, i) => rate / b.rates[i]!)
  return { median: median(per), min: Math.min(...per), max: Math.max(...per) }
}

export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M/s`
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)} k/s`
  return `${opsPerSec.toFixed(0)} /s`
}

/** Prints a markdown table: contender, median rate, spread, ratio against `baseline` (by name). */
export function printTable(title: string, results: Result[], baselines: string[]): void {
  const header = ['contender', 'median', 'min..max', ...baselines.map((b) => `x ${b}`)]
  console.log(`\n### ${title}\n`)
  console.log(`| ${header.join(' | ')} |`)
  console.log(`| ${header.map(() => '---').join(' | ')} |`)
  for (const r of results) {
    const cells = baselines.map((b) => {
      const base = results.find((x) => x.name === b)
      if (base === undefined) return 'n/a'
      const q = ratio(r, base)
      return `${q.median.toFixed(3)} (${q.min.toFixed(2)}..${q.max.toFixed(2)})`
    })
    console.log(`| ${r.name} | ${formatRate(r.median)} | ${formatRate(r.min)}..${formatRate(r.max)} | ${cells.join(' | ')} |`)
  }
}

/**
 * CPU per operation of this process (µs) against `baseline`, as median of per-round ratios
 * (baseline CPU ÷ contender CPU, so above 1 means cheaper). It leaves out the other processes a
 * benchmark talks to (Redis), and moves much less than throughput on a shared machine.
 */
export function printCpuTable(title: string, results: Result[], baseline: string): void {
  const base = results.find((r) => r.name === baseline)
  if (base === undefined) return
  console.log(`\n### ${title}\n`)
  console.log(`| contender | CPU µs/op median (min..max) | efficiency x ${baseline} |`)
  console.log('| --- | --- | --- |')
  for (const r of results) {
    const per = r.cpuPerOp.map((c, i) => (base.cpuPerOp[i] as number) / c)
    console.log(`| ${r.name} | ${median(r.cpuPerOp).toFixed(2)} (${Math.min(...r.cpuPerOp).toFixed(2)}..${Math.max(...r.cpuPerOp).toFixed(2)}) | ${median(per).toFixed(3)} (${Math.min(...per).toFixed(2)}..${Math.max(...per).toFixed(2)}) |`)
  }
}

/** Runs `op` with `concurrency` workers until `ops` operations are done. */
export async function concurrently(ops: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < ops) {
      const i = next++
      await op(i)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
