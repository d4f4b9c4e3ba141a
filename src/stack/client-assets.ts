import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type TypeScript from 'typescript'

/** The browser client's modules, as a server hands them to pages. */
export interface ClientAssets {
  /** A hash of every module's text: the URL segment that makes them immutable (`/_tiercache/client/<hash>/index.js`). */
  readonly hash: string
  /** Module file name (`index.js`, `service-worker.js`, ...) to its JavaScript. */
  readonly files: ReadonlyMap<string, string>
}

let loaded: Promise<ClientAssets> | undefined

/**
 * The `tiercache/client` modules as JavaScript, read once: the built files next to this module in
 * a published package (dist/client), or, in a source checkout run through tsx, the TypeScript
 * sources with their types stripped by the TypeScript compiler (a development dependency). The
 * browser loads them as native ES modules: no bundler between the package and the page.
 */
export function clientAssets(): Promise<ClientAssets> {
  loaded ??= load().catch((error: unknown) => {
    loaded = undefined
    throw error
  })
  return loaded
}

async function load(): Promise<ClientAssets> {
  const dir = fileURLToPath(new URL('../client/', import.meta.url))
  const names = (await readdir(dir)).filter((name) => /^[\w-]+\.(js|ts)$/.test(name) && !name.endsWith('.d.ts')).sort()
  const built = names.filter((name) => name.endsWith('.js'))
  const files = new Map<string, string>()
  if (built.length > 0) {
    for (const name of built) files.set(name, await readFile(`${dir}${name}`, 'utf8'))
  } else {
    const ts = await loadTypeScript()
    for (const name of names) {
      const source = await readFile(`${dir}${name}`, 'utf8')
      const { outputText } = ts.transpileModule(source, {
        fileName: name,
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, removeComments: false },
      })
      files.set(name.replace(/\.ts$/, '.js'), outputText)
    }
  }
  const hash = createHash('sha256')
  for (const [name, text] of files) hash.update(name).update('\0').update(text).update('\0')
  return { hash: hash.digest('hex').slice(0, 16), files }
}

async function loadTypeScript(): Promise<typeof TypeScript> {
  try {
    return (await import('typescript')).default
  } catch (error) {
    throw new Error('the browser client is not built (no dist/client): run npm run build, or install the typescript package to serve it from source', { cause: error })
  }
}
