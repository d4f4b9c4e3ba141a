import { createRequire } from 'node:module'
import { DependencyMissingError } from '../core/errors.js'

const cache = new Map<string, unknown>()

/**
 * Loads an optional peer dependency (prom-client, @opentelemetry/api) synchronously, the first time
 * it is needed: importing `tiercache/metrics` never loads either, and an exporter given a registry
 * or a meter of the caller's needs neither. Missing, it is one {@link DependencyMissingError}
 * naming the package to install.
 */
export function loadOptional<T>(pkg: 'prom-client' | '@opentelemetry/api', feature: string): T {
  const loaded = cache.get(pkg)
  if (loaded !== undefined) return loaded as T
  let mod: unknown
  try {
    mod = createRequire(import.meta.url)(pkg)
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') throw new DependencyMissingError(pkg, feature, error)
    throw error
  }
  cache.set(pkg, mod)
  return mod as T
}
