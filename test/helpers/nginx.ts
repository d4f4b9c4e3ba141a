import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, privateDir, requireBinary, requireFile, serving, startDaemon } from './daemon.js'

/** The nginx server configuration the repository ships (deploy/nginx/tiercache.conf). */
export const SHIPPED_NGINX_CONF = new URL('../../deploy/nginx/tiercache.conf', import.meta.url)
const PURGE_MODULE = '/usr/lib/nginx/modules/ngx_http_cache_purge_module.so'

export interface NginxOptions {
  readonly originPort: number
  /** Edits the shipped server configuration before it runs (a test's variation). */
  readonly edit?: ((conf: string) => string) | undefined
}

export interface RunningNginx {
  readonly port: number
  /** `http://127.0.0.1:<port>`: the cache. */
  readonly url: string
  /** `http://127.0.0.1:<purge port>`: the purge server (GET /path purges that URL). */
  readonly purgeUrl: string
  stop(): Promise<void>
}

/** The shipped server block with its cache directory, listen port and origin replaced. */
export function shippedNginxConf(options: { cacheDir: string; port: number; purgePort: number; originPort: number }): string {
  const text = readFileSync(SHIPPED_NGINX_CONF, 'utf8')
  const swaps: [RegExp, string][] = [
    [/proxy_cache_path \S+/, `proxy_cache_path ${options.cacheDir}`],
    [/listen 127\.0\.0\.1:8081;/, `listen 127.0.0.1:${options.port};`],
    [/listen 127\.0\.0\.1:8082;/, `listen 127.0.0.1:${options.purgePort};`],
    [/server 127\.0\.0\.1:\d+;/, `server 127.0.0.1:${options.originPort};`],
  ]
  let out = text
  for (const [pattern, replacement] of swaps) {
    if (!pattern.test(out)) throw new Error(`deploy/nginx/tiercache.conf has no ${pattern.source} to point at the test's directories and ports`)
    out = out.replace(pattern, replacement)
  }
  return out
}

/**
 * Starts a real nginx (Debian packages nginx and libnginx-mod-http-cache-purge) in the foreground
 * on a free port, with every path (prefix, pid, logs, temp files, cache) in a private temporary
 * directory, running the shipped server block. `stop` kills it and removes the directory.
 */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const nginx = requireBinary('/usr/sbin/nginx', 'nginx')
  requireFile(PURGE_MODULE, 'libnginx-mod-http-cache-purge')
  const dir = privateDir('tc-nginx-')
  for (const sub of ['logs', 'cache', 'tmp']) mkdirSync(join(dir.path, sub))
  const port = await freePort()
  const purgePort = await freePort()
  const conf = [
    `load_module ${PURGE_MODULE};`,
    `pid ${join(dir.path, 'nginx.pid')};`,
    `error_log ${join(dir.path, 'logs', 'error.log')} warn;`,
    // As root, nginx would switch its workers to nobody, who cannot write the temporary directory.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'worker_processes 1;',
    'events { worker_connections 256; }',
    'http {',
    `  access_log off;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir.path, 'tmp', k)};`),
    (options.edit ?? ((c: string) => c))(shippedNginxConf({ cacheDir: join(dir.path, 'cache'), port, purgePort, originPort: options.originPort })),
    '}',
  ].join('\n')
  const confPath = join(dir.path, 'nginx.conf')
  writeFileSync(confPath, conf)
  const daemon = startDaemon(nginx, ['-p', dir.path, '-c', confPath, '-e', join(dir.path, 'logs', 'error.log'), '-g', 'daemon off;'])
  const url = `http://127.0.0.1:${port}`
  const purgeUrl = `http://127.0.0.1:${purgePort}`
  const stop = await serving(daemon, 'nginx', dir, `${purgeUrl}/__tiercache_probe`)
  return { port, url, purgeUrl, stop }
}
