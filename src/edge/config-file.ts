import { readFile } from 'node:fs/promises'
import { EdgeConfigError } from './errors.js'
import type { EdgeOptions } from './options.js'

/** Options a JSON config file may set (objects such as a clock, logger or bus are given in code). */
const FILE_OPTIONS = new Set([
  'origin', 'behaviors', 'storage', 'maxObjectBytes', 'purgeToken', 'id', 'surrogateId', 'originTimeout', 'breakerThreshold',
  'breakerCooldown', 'originMaxSockets', 'maxHeaderBytes', 'maxUrlBytes', 'honorRequestCacheControl', 'keepStale', 'hitForPass',
  'adminPrefix', 'metricsEndpoint', 'publishUnsafeInvalidations', 'xForwardedFor', 'purgeFence', 'originBodyTimeout', 'maxWaitersPerFill',
  'hopSecret', 'purge', 'admin', 'accessLog', 'port', 'host', 'bus',
])

/** The invalidation bus a config file can name: the Redis Streams bus of a namespace. */
export interface BusConfig {
  /** Redis URL. */
  readonly redis?: string
  /** Redis Cluster seed nodes. */
  readonly cluster?: readonly { host: string; port: number }[]
  /** The namespace whose stream to follow: the app caches' namespace, so purges reach their L1s. */
  readonly namespace: string
}

/** A config file: edge options plus where to listen and which bus to follow. */
export type EdgeConfigFile = Omit<Partial<EdgeOptions>, 'bus'> & { port?: number; host?: string; bus?: BusConfig }

/**
 * Reads an edge config file (JSON). Unknown top-level fields are refused so a typo does not silently
 * fall back to a default; the values themselves are validated by `createEdge`. Throws `E_EDGE_CONFIG`.
 */
export async function loadEdgeConfig(file: string): Promise<EdgeConfigFile> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new EdgeConfigError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, error)
  }
  let parsed: EdgeConfigFile
  try {
    parsed = JSON.parse(text) as EdgeConfigFile
  } catch (error) {
    throw new EdgeConfigError(file, `is not valid JSON (${(error as Error).message})`, error)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EdgeConfigError(file, 'must be a JSON object')
  for (const key of Object.keys(parsed)) {
    if (!FILE_OPTIONS.has(key)) throw new EdgeConfigError(file, `unknown option "${key.slice(0, 60)}"`)
  }
  const bus = parsed.bus as unknown
  if (bus !== undefined) {
    const b = bus as Record<string, unknown>
    if (typeof bus !== 'object' || bus === null || typeof b.namespace !== 'string' || b.namespace === '' ||
      (typeof b.redis !== 'string' && !Array.isArray(b.cluster))) {
      throw new EdgeConfigError(file, 'expected "bus" to be { "redis": "redis://host:port", "namespace": "..." } (or "cluster": [{ "host", "port" }])')
    }
  }
  return parsed
}
