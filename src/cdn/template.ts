import { CdnConfigError } from './errors.js'

/**
 * A mapping template: `product:{id}` matches cache keys or tags (each `{name}` takes one or more
 * characters), and `/api/products/{id}` renders what a match captured. Rendering into a URL
 * percent-encodes the values, so a key such as `product:a/b` cannot reach another path.
 */
export interface Template {
  readonly source: string
  readonly names: readonly string[]
  readonly pattern: RegExp
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export function parseTemplate(source: unknown, field: string): Template {
  if (typeof source !== 'string' || source === '') throw new CdnConfigError(field, `expected a non-empty template such as "product:{id}", got ${JSON.stringify(source)}`)
  const names: string[] = []
  let regex = '^'
  let last = 0
  for (const m of source.matchAll(PLACEHOLDER)) {
    regex += escape(source.slice(last, m.index))
    const name = m[1]!
    if (names.includes(name)) throw new CdnConfigError(field, `{${name}} appears twice in ${JSON.stringify(source)}`)
    names.push(name)
    regex += '(.+?)'
    last = m.index + m[0].length
  }
  const rest = source.slice(last)
  if (/[{}]/.test(source.replace(PLACEHOLDER, ''))) {
    throw new CdnConfigError(field, `unbalanced brace in ${JSON.stringify(source)}: placeholders are {name}`)
  }
  regex += `${escape(rest)}$`
  return { source, names, pattern: new RegExp(regex, 's') }
}

/** The values a matching template captured, or undefined when it does not match. */
export function matchTemplate(template: Template, text: string): Record<string, string> | undefined {
  const m = template.pattern.exec(text)
  if (m === null) return undefined
  const values: Record<string, string> = {}
  template.names.forEach((name, i) => { values[name] = m[i + 1]! })
  return values
}

/** Renders `template` with `values`; `encode` percent-encodes them (for URLs). Unknown names were refused at parse time. */
export function renderTemplate(template: Template, values: Readonly<Record<string, string>>, encode: boolean): string {
  return template.source.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name] ?? ''
    return encode ? encodeURIComponent(value) : value
  })
}

/** Refuses an output template naming a placeholder its rule's match does not capture. */
export function checkNames(output: Template, match: Template, field: string): void {
  for (const name of output.names) {
    if (!match.names.includes(name)) throw new CdnConfigError(field, `{${name}} is not captured by the match ${JSON.stringify(match.source)}`)
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
