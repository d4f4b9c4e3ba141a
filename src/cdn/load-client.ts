import { DependencyMissingError } from '../core/errors.js'

/**
 * Loads a provider's client package the first time a purger of that provider is used, so that
 * `tiercache/cdn` (and a runner driving only Varnish) never loads the cloud SDKs. Missing, it is
 * one {@link DependencyMissingError} naming the package to install.
 */
export async function loadOptional<T>(pkg: string, feature: string): Promise<T> {
  try {
    return await (import(pkg) as Promise<T>)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new DependencyMissingError(pkg, feature, error)
    throw error
  }
}
