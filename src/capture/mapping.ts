import { CaptureConfigError } from './capture-errors.js'

/**
 * The declarative mapping from tables to cache keys and tags, as a user writes it (JSON file or
 * object):
 *
 * ```json
 * { "tables": {
 *     "products":          { "key": "product:{id}", "tags": ["product:{id}", "products"], "version": "version" },
 *     "shop.order_lines":  { "key": "order:{order_id}:line:{line_no}", "tags": ["order:{order_id}"] } } }
 * ```
 *
 * A `{column}` placeholder is replaced by the row's value. For an UPDATE, both the old and the new
 * row are invalidated when a mapped column changed (a product moved to another category drops
 * both categories' tags; a primary key that changed drops both keys).
 */
export interface CaptureMappingInput {
  /** Base name of the capture's tables (outbox, state) and notify channel. Default `tiercache_cdc`. */
  outbox?: string
  tables: Record<string, TableMappingInput>
}

/** One table's entry. At least one of `key` and `tags`. */
export interface TableMappingInput {
  /** The cache key of a row: a template such as `product:{id}`. */
  key?: string
  /** Tags every change of a row invalidates: templates (`product:{id}`) or constants (`products`). */
  tags?: string[]
  /** A column holding the row's version (a number that grows with each write): sent as the source version. */
  version?: string
}

/** One part of a template: literal text, or a column whose value goes there. */
export type TemplatePart = { readonly text: string } | { readonly column: string }

/** A parsed key or tag template. */
export interface Template {
  readonly source: string
  readonly parts: readonly TemplatePart[]
  readonly columns: readonly string[]
}

/** One table's mapping, checked. */
export interface TableMapping {
  /** As written in the mapping (and in the outbox's `table_name`). */
  readonly table: string
  /** The schema when the mapping names one; else the table is found through the search path. */
  readonly schema: string | undefined
  readonly name: string
  readonly key: Template | undefined
  readonly tags: readonly Template[]
  readonly version: string | undefined
  /** Every column the templates name (what the trigger records), in order of first use. */
  readonly columns: readonly string[]
}

/** A checked mapping: what the installer and the invalidator work from. */
export interface CaptureMapping {
  readonly outbox: string
  readonly tables: readonly TableMapping[]
}

/** A plain (unquoted) PostgreSQL identifier: lower case, so the name in SQL and in the catalog agree. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/
const TOP_KEYS = ['outbox', 'tables']
const TABLE_KEYS = ['key', 'tags', 'version']

/**
 * Checks a mapping and returns it parsed. Every problem is an `E_CDC_CONFIG` naming the table and
 * the field (`tables.products.tags[1]: unknown column placeholder ...`); unknown keys are refused.
 */
export function parseCaptureMapping(input: unknown): CaptureMapping {
  if (!isRecord(input)) fail('mapping', 'expected an object { tables: { <table>: { key, tags, version } } }')
  refuseUnknown(input, TOP_KEYS, 'mapping')
  const outbox = input.outbox ?? 'tiercache_cdc'
  if (typeof outbox !== 'string' || !IDENTIFIER.test(outbox) || outbox.length > 40) {
    fail('outbox', `expected a lower-case identifier of at most 40 characters (letters, digits, _), got ${show(outbox)}`)
  }
  const tables = input.tables
  if (!isRecord(tables) || Object.keys(tables).length === 0) fail('tables', 'expected an object naming at least one table')
  const parsed: TableMapping[] = []
  for (const [table, spec] of Object.entries(tables)) parsed.push(parseTable(table, spec))
  const qualified = new Set<string>()
  for (const t of parsed) {
    const name = t.table
    if (qualified.has(name)) fail(`tables.${t.table}`, `the table ${name} is mapped twice`)
    qualified.add(name)
  }
  return { outbox, tables: parsed }
}

function parseTable(table: string, spec: unknown): TableMapping {
  const at = `tables.${table}`
  const dotted = table.split('.')
  if (dotted.length > 2 || !dotted.every((part) => IDENTIFIER.test(part))) {
    fail(at, 'a table is named `table` or `schema.table`, each a lower-case identifier (letters, digits, _)')
  }
  const [schema, name] = dotted.length === 2 ? [dotted[0]!, dotted[1]!] : [undefined, dotted[0]!]
  if (!isRecord(spec)) fail(at, 'expected an object { key?, tags?, version? }')
  refuseUnknown(spec, TABLE_KEYS, at)
  const key = spec.key === undefined ? undefined : parseTemplate(spec.key, `${at}.key`, true)
  if (spec.tags !== undefined && (!Array.isArray(spec.tags))) fail(`${at}.tags`, `expected an array of tag templates, got ${show(spec.tags)}`)
  const tags = ((spec.tags ?? []) as unknown[]).map((tag, i) => parseTemplate(tag, `${at}.tags[${i}]`, false))
  if (key === undefined && tags.length === 0) fail(at, 'name a key template, tags, or both: otherwise a change invalidates nothing')
  const version = spec.version
  if (version !== undefined && (typeof version !== 'string' || !IDENTIFIER.test(version))) {
    fail(`${at}.version`, `expected a column name, got ${show(version)}`)
  }
  const columns = [...new Set([...(key?.columns ?? []), ...tags.flatMap((t) => t.columns)])]
  return { table, schema, name, key, tags, version: version, columns }
}

/** `product:{id}` → parts; a key must name a column (a constant key would be one entry for every row). */
function parseTemplate(source: unknown, at: string, needsColumn: boolean): Template {
  if (typeof source !== 'string' || source === '') fail(at, `expected a non-empty template such as "product:{id}", got ${show(source)}`)
  const parts: TemplatePart[] = []
  const columns: string[] = []
  const re = /\{([^{}]*)\}/g
  let last = 0
  for (let m = re.exec(source); m !== null; m = re.exec(source)) {
    if (m.index > last) parts.push({ text: source.slice(last, m.index) })
    const column = m[1]!
    if (!IDENTIFIER.test(column)) fail(at, `{${column}} is not a column name (lower-case letters, digits, _)`)
    parts.push({ column })
    if (!columns.includes(column)) columns.push(column)
    last = m.index + m[0].length
  }
  if (last < source.length) parts.push({ text: source.slice(last) })
  if (parts.some((p) => 'text' in p && /[{}]/.test(p.text))) fail(at, `unbalanced brace in ${show(source)}: placeholders are {column}`)
  if (needsColumn && columns.length === 0) fail(at, `a key must name the row's columns, such as "product:{id}"; ${show(source)} names none`)
  return { source, parts, columns }
}

/**
 * Renders a template with a row's values; undefined when a named column is null or missing (no
 * entry can be keyed by a value the row does not have).
 */
export function renderTemplate(template: Template, values: Readonly<Record<string, unknown>>): string | undefined {
  let out = ''
  for (const part of template.parts) {
    if ('text' in part) {
      out += part.text
      continue
    }
    const value = values[part.column]
    if (value === null || value === undefined) return undefined
    // Scalars as the database printed them (jsonb: numbers, strings, booleans); anything else as JSON.
    out += typeof value === 'string' ? value : JSON.stringify(value)
  }
  return out
}

function refuseUnknown(record: Record<string, unknown>, known: readonly string[], at: string): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) fail(at === 'mapping' ? key : `${at}.${key}`, `unknown key ${show(key)} (known: ${known.join(', ')})`)
  }
}

function fail(at: string, message: string): never {
  throw new CaptureConfigError('E_CDC_CONFIG', `${at}: ${message}`, { option: at })
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
