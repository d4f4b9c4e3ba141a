/**
 * The catalog's demo page (`/demo`): registers the client layer's service worker, shows one
 * product, subscribes to its tag and shows the new price when the product changes, without a
 * reload (`?product=<id>`; `?tags=a,b` follows more tags; `?cacheBytes=N` bounds the worker's
 * cache). Built per request from the client modules' hash (their immutable URLs). The page's
 * state is mirrored on `<body>` (`data-sw`, `data-connection`, `data-price`, `data-version`,
 * `data-invalidations`, `data-resyncs`, `data-updated-at`) for tests and scripts to wait on.
 */
export function demoHtml(hash: string, modules: readonly string[]): string {
  const base = `/_tiercache/client/${hash}/`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiercache client demo</title>
<link rel="icon" href="data:,">
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 24px; color: #1d232a; }
.price { font-size: 32px; font-weight: 600; }
.muted { color: #667; }
.pill { padding: 1px 8px; border-radius: 9px; background: #ddd; }
body[data-connection="live"] #connection { background: #2e7d32; color: #fff; }
</style>
</head>
<body data-sw="starting" data-connection="connecting" data-invalidations="0" data-resyncs="0">
<h1>tiercache client demo</h1>
<p>service worker: <span id="sw">starting</span> &middot; invalidations: <span id="connection" class="pill">connecting</span></p>
<h2 id="name">loading</h2>
<p class="price" id="price">-</p>
<p class="muted">version <span id="version">-</span> &middot; <span id="status"></span></p>
<p class="muted">Change it (<code>PUT /api/products/:id</code>, or SQL: change capture turns the commit into the
invalidation) and the price above changes, without a reload. Offline, the last copy is served by the service worker.</p>
<script type="module">
import { subscribeInvalidations, whenControlled, workerStats, dropTagsInWorker } from '${base}index.js'
const MODULES = ${JSON.stringify(modules.map((name) => base + name))}
const params = new URLSearchParams(location.search)
const id = /^[1-9][0-9]{0,9}$/.test(params.get('product') || '') ? params.get('product') : '1'
const cacheBytes = /^[1-9][0-9]{0,12}$/.test(params.get('cacheBytes') || '') ? params.get('cacheBytes') : undefined
// More tags to follow besides the product's (?tags=products,promo): subscribeInvalidations checks them.
const extraTags = (params.get('tags') || '').split(',').filter((tag) => tag !== '')
const body = document.body
const show = (name, text) => { document.getElementById(name).textContent = text }
let invalidations = 0
let resyncs = 0
window.tiercache = { workerStats, dropTagsInWorker }

function render(product) {
  show('name', product.name)
  show('price', (product.price_cents / 100).toFixed(2))
  show('version', String(product.version))
  body.dataset.price = String(product.price_cents)
  body.dataset.version = String(product.version)
  body.dataset.updatedAt = String(performance.timeOrigin + performance.now())
}

// After an invalidation, read until the version the change carried (a copy on its way out of a
// shared cache may still answer for a moment); 'no-cache' asks past every cache on the way.
async function load(minVersion) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch('/api/products/' + id, minVersion === undefined ? {} : { cache: 'no-cache' })
    if (!res.ok) { show('status', 'product ' + id + ': HTTP ' + res.status); return }
    const product = await res.json()
    if (minVersion === undefined || product.version >= minVersion || attempt >= 20) return render(product)
    await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 1000)))
  }
}

async function start() {
  let sw = 'unsupported'
  if ('serviceWorker' in navigator) {
    try {
      await navigator.serviceWorker.register('/tiercache-sw.js' + (cacheBytes === undefined ? '' : '?maxBytes=' + cacheBytes), { type: 'module', scope: '/' })
      await whenControlled(15000)
      sw = 'controlled'
      // The page and its modules into the worker's cache, so the next visit works offline.
      await Promise.allSettled([fetch(location.href, { headers: { accept: 'text/html' } }), ...MODULES.map((url) => fetch(url))])
    } catch (error) {
      sw = 'failed: ' + error.message
    }
  }
  show('sw', sw)
  body.dataset.sw = sw
  await load()
  subscribeInvalidations({
    tags: ['product:' + id, ...extraTags],
    onState: (state) => { show('connection', state); body.dataset.connection = state },
    onInvalidate: async (detail) => {
      // The version a change carries is its row's: only the product's own tag says what to wait for.
      await load(detail.tags.includes('product:' + id) ? detail.version : undefined)
      invalidations++
      body.dataset.invalidations = String(invalidations)
      body.dataset.lastTags = detail.tags.join(' ')
      show('status', 'updated live: ' + detail.tags.join(', '))
    },
    onResync: async () => {
      await load()
      resyncs++
      body.dataset.resyncs = String(resyncs)
    },
  })
}
start().catch((error) => { show('status', 'error: ' + error.message); body.dataset.error = error.message })
</script>
</body>
</html>
`
}

/** The service worker script the demo registers at the root (so its scope may be `/`): the client's worker with the bound from its query. */
export function demoWorkerScript(hash: string): string {
  return `import { installServiceWorker } from '/_tiercache/client/${hash}/service-worker.js'
const maxBytes = Number(new URL(self.location.href).searchParams.get('maxBytes'))
installServiceWorker(self, Number.isSafeInteger(maxBytes) && maxBytes > 0 ? { maxBytes } : {})
`
}
