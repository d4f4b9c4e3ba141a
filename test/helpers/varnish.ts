import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, privateDir, requireBinary, requireFile, serving, startDaemon } from './daemon.js'

/** The VCL the repository ships (deploy/varnish/tiercache.vcl). */
export const SHIPPED_VCL = new URL('../../deploy/varnish/tiercache.vcl', import.meta.url)

export interface VarnishOptions {
  /** The origin Varnish fetches from (127.0.0.1). */
  readonly originPort: number
  /** VCL text; default the shipped VCL with its backend pointed at `originPort`. */
  readonly vcl?: string
}

export interface RunningVarnish {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  stop(): Promise<void>
}

/** The shipped VCL with its backend port replaced. */
export function shippedVcl(originPort: number): string {
  const text = readFileSync(SHIPPED_VCL, 'utf8')
  const replaced = text.replace(/(backend default \{[^}]*\.port = ")\d+(";)/, `$1${originPort}$2`)
  if (replaced === text) throw new Error('deploy/varnish/tiercache.vcl has no `backend default { .port = "..."; }` to point at the test origin')
  return replaced
}

/**
 * Starts a real varnishd (Debian packages varnish and varnish-modules, for vmod xkey) in the
 * foreground on a free port, with its working directory (-n) in a private temporary directory.
 * Resolves once it answers HTTP; `stop` kills it and removes the directory.
 */
export async function startVarnish(options: VarnishOptions): Promise<RunningVarnish> {
  const varnishd = requireBinary('/usr/sbin/varnishd', 'varnish')
  requireFile('/usr/lib/x86_64-linux-gnu/varnish/vmods/libvmod_xkey.so', 'varnish-modules')
  const dir = privateDir('tc-varnish-')
  const vclPath = join(dir.path, 'tiercache.vcl')
  writeFileSync(vclPath, options.vcl ?? shippedVcl(options.originPort))
  const port = await freePort()
  // -j none: no privilege separation (the test's temporary directory belongs to whoever runs it);
  // -F: the foreground, so killing the process group stops the manager and the worker child.
  const daemon = startDaemon(varnishd, ['-F', '-j', 'none', '-n', join(dir.path, 'work'), '-a', `127.0.0.1:${port}`,
    '-f', vclPath, '-s', 'malloc,64m', '-T', 'none', '-p', 'ban_lurker_sleep=0.05'])
  const url = `http://127.0.0.1:${port}`
  const stop = await serving(daemon, 'varnishd', dir, `${url}/__tiercache_probe`)
  return { port, url, stop }
}
