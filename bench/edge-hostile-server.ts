/**
 * Child process of `npm run bench:edge-hostile`: one edge, options from argv as JSON, answering
 * `mem` on IPC with its memory usage (after a GC when --expose-gc is on). Prints `READY <port>`.
 */
import { silentLogger } from '../src/core/logger.js'
import { createEdge } from '../src/edge/index.js'
import type { EdgeOptions } from '../src/edge/index.js'

const options = JSON.parse(process.argv[2] ?? '{}') as EdgeOptions
const edge = createEdge({ logger: silentLogger, ...options })
const url = await edge.listen(0)
process.on('message', (message: unknown) => {
  if (message === 'mem') {
    globalThis.gc?.()
    const m = process.memoryUsage()
    process.send?.({ rss: m.rss, heapUsed: m.heapUsed, stats: edge.stats() })
  }
})
process.on('SIGTERM', () => { void edge.close().then(() => process.exit(0)) })
console.log(`READY ${new URL(url).port}`)
