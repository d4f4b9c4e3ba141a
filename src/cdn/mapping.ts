import type { InvalidationMessage } from '../ports/bus.js'
import { CdnConfigError } from './errors.js'
import type { PurgeCapabilities, PurgeKind } from './purger.js'
import type { Template } from './template.js'
import { checkNames, matchTemplate, parseTemplate, renderTemplate } from './template.js'

/**
 * How invalidations become CDN purges. Pure: no I/O, the same input always gives the same plan.
 *
 * - a tag becomes surrogate keys (by default the tag itself: `product:42` purges the surrogate key
 *   `product:42`) on CDNs with tags, and the URLs / prefixes of its rule on CDNs without (nginx,
 *   CloudFront); a tag with no URL there cannot be expressed and is undeliverable (dead-lettered);
 * - a cache key becomes the URLs (and surrogate keys) of the first rule it matches; a key no rule
 *   matches is not a CDN object and is left alone;
 * - a key prefix becomes the URL prefixes of its rule (likewise ignored without one);
 * - the edge's own `urls` and `prefixes` pass through; `clear` purges everything;
 * - `soft` is kept for the kinds the CDN soft-purges, hard otherwise (stricter, never looser).
 */
export interface MappingRule {
  readonly match: Template
  readonly surrogateKeys: readonly Template[] | undefined
  readonly urls: readonly Template[]
  readonly prefixes: readonly Template[]
}

export interface CdnMapping {
  readonly tags: readonly MappingRule[]
  readonly keys: readonly MappingRule[]
  readonly keyPrefixes: readonly MappingRule[]
}

/** One request's worth of work before batching: items of one kind, hard or soft. */
export interface PurgeWork {
  readonly kind: PurgeKind
  readonly soft: boolean
  readonly items: readonly string[]
}

/** What a batch of messages asks of one CDN. */
export interface PurgePlan {
  readonly work: readonly PurgeWork[]
  /** Purges this CDN cannot express, with the reason: dead-lettered, never dropped. */
  readonly undeliverable: readonly { readonly work: PurgeWork; readonly reason: string }[]
  /** Keys and key prefixes no rule maps to a URL: not CDN objects. */
  readonly ignored: number
}

export const EMPTY_MAPPING: CdnMapping = { tags: [], keys: [], keyPrefixes: [] }

/** Parses the `mapping` object of a cdn-purger configuration; errors name the field. */
export function parseMapping(input: unknown, field = 'mapping'): CdnMapping {
  if (input === undefined) return EMPTY_MAPPING
  const record = asRecord(input, field)
  refuseUnknown(record, ['tags', 'keys', 'keyPrefixes'], field)
  return {
    tags: parseRules(record.tags, `${field}.tags`),
    keys: parseRules(record.keys, `${field}.keys`),
    keyPrefixes: parseRules(record.keyPrefixes, `${field}.keyPrefixes`),
  }
}

function parseRules(input: unknown, field: string): MappingRule[] {
  if (input === undefined) return []
  if (!Array.isArray(input)) throw new CdnConfigError(field, `expected an array of rules such as {"match": "product:{id}", "urls": ["/api/products/{id}"]}, got ${JSON.stringify(input)}`)
  return input.map((raw, i) => {
    const at = `${field}[${i}]`
    const rule = asRecord(raw, at)
    refuseUnknown(rule, ['match', 'surrogateKeys', 'urls', 'prefixes'], at)
    const match = parseTemplate(rule.match, `${at}.match`)
    const list = (name: string, isPath: boolean): Template[] | undefined => {
      const value = rule[name]
      if (value === undefined) return undefined
      if (!Array.isArray(value)) throw new CdnConfigError(`${at}.${name}`, `expected an array of templates, got ${JSON.stringify(value)}`)
      return value.map((v, j) => {
        const t = parseTemplate(v, `${at}.${name}[${j}]`)
        if (isPath && !t.source.startsWith('/')) throw new CdnConfigError(`${at}.${name}[${j}]`, `a URL template is a path starting with "/", got ${JSON.stringify(t.source)}`)
        checkNames(t, match, `${at}.${name}[${j}]`)
        return t
      })
    }
    const surrogateKeys = list('surrogateKeys', false)
    const urls = list('urls', true) ?? []
    const prefixes = list('prefixes', true) ?? []
    if (surrogateKeys === undefined && urls.length === 0 && prefixes.length === 0) {
      throw new CdnConfigError(at, 'a rule needs surrogateKeys, urls or prefixes: otherwise it maps to nothing')
    }
    return { match, surrogateKeys, urls, prefixes }
  })
}

/** The purges a batch of messages asks of a CDN with `capabilities`, deduplicated, in first-seen order. */
export function planPurges(messages: readonly InvalidationMessage[], mapping: CdnMapping, capabilities: PurgeCapabilities): PurgePlan {
  const supports = (kind: PurgeKind): boolean => capabilities.kinds.includes(kind)
  const buckets = new Map<string, { kind: PurgeKind; soft: boolean; items: Set<string> }>()
  const undeliverable: { work: PurgeWork; reason: string }[] = []
  let ignored = 0
  const add = (kind: PurgeKind, wantSoft: boolean, item: string): void => {
    const soft = wantSoft && capabilities.soft.includes(kind)
    const id = `${kind}:${soft}`
    let bucket = buckets.get(id)
    if (bucket === undefined) buckets.set(id, bucket = { kind, soft, items: new Set() })
    bucket.items.add(item)
  }
  const refuse = (kind: PurgeKind, soft: boolean, items: string[], reason: string): void => {
    undeliverable.push({ work: { kind, soft, items }, reason })
  }
  const paths = (kind: 'urls' | 'prefixes', soft: boolean, items: readonly string[], what: string): void => {
    if (items.length === 0) return
    if (supports(kind)) for (const item of items) add(kind, soft, item)
    else refuse(kind, soft, [...items], `${what}: this CDN cannot purge by ${kind === 'urls' ? 'URL' : 'prefix'}`)
  }

  for (const message of messages) {
    const soft = message.soft === true
    if (message.clear === true) {
      if (supports('all')) add('all', false, '*')
      else refuse('all', false, [], 'the namespace was cleared: this CDN cannot purge everything')
    }
    for (const tag of message.tags ?? []) {
      const hit = firstMatch(mapping.tags, tag)
      if (supports('tags')) {
        for (const key of hit === undefined || hit.rule.surrogateKeys === undefined ? [tag] : render(hit.rule.surrogateKeys, hit.values, false)) add('tags', soft, key)
        continue
      }
      const urls = hit === undefined ? [] : render(hit.rule.urls, hit.values, true)
      const prefixes = hit === undefined ? [] : render(hit.rule.prefixes, hit.values, true)
      if (urls.length === 0 && prefixes.length === 0) {
        refuse('tags', soft, [tag], `tag ${tag}: this CDN has no tags and no mapping.tags rule gives it a URL or prefix`)
        continue
      }
      paths('urls', soft, urls, `tag ${tag}`)
      paths('prefixes', soft, prefixes, `tag ${tag}`)
    }
    for (const key of message.keys ?? []) {
      const hit = firstMatch(mapping.keys, key)
      if (hit === undefined) {
        ignored++
        continue
      }
      if (hit.rule.surrogateKeys !== undefined && supports('tags')) for (const k of render(hit.rule.surrogateKeys, hit.values, false)) add('tags', soft, k)
      paths('urls', soft, render(hit.rule.urls, hit.values, true), `key ${key}`)
      paths('prefixes', soft, render(hit.rule.prefixes, hit.values, true), `key ${key}`)
    }
    for (const prefix of message.keyPrefixes ?? []) {
      const hit = firstMatch(mapping.keyPrefixes, prefix)
      if (hit === undefined) {
        ignored++
        continue
      }
      paths('urls', soft, render(hit.rule.urls, hit.values, true), `key prefix ${prefix}`)
      paths('prefixes', soft, render(hit.rule.prefixes, hit.values, true), `key prefix ${prefix}`)
    }
    paths('urls', soft, message.urls ?? [], 'edge URL purge')
    paths('prefixes', soft, message.prefixes ?? [], 'edge prefix purge')
  }
  const work = [...buckets.values()].map((b) => ({ kind: b.kind, soft: b.soft, items: b.kind === 'all' ? [] : [...b.items] }))
  return { work, undeliverable, ignored }
}

/** Splits work into requests of at most the CDN's batch limit. */
export function splitWork(work: PurgeWork, itemsPerRequest: Readonly<Record<Exclude<PurgeKind, 'all'>, number>>): PurgeWork[] {
  if (work.kind === 'all') return [work]
  const max = Math.max(1, itemsPerRequest[work.kind])
  const out: PurgeWork[] = []
  for (let i = 0; i < work.items.length; i += max) out.push({ kind: work.kind, soft: work.soft, items: work.items.slice(i, i + max) })
  return out
}

function firstMatch(rules: readonly MappingRule[], text: string): { rule: MappingRule; values: Record<string, string> } | undefined {
  for (const rule of rules) {
    const values = matchTemplate(rule.match, text)
    if (values !== undefined) return { rule, values }
  }
  return undefined
}

function render(templates: readonly Template[], values: Record<string, string>, encode: boolean): string[] {
  return templates.map((t) => renderTemplate(t, values, encode))
}

export function asRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CdnConfigError(field, `expected an object, got ${JSON.stringify(value) ?? String(value)}`)
  return value as Record<string, unknown>
}

export function refuseUnknown(record: Record<string, unknown>, known: readonly string[], field: string): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) throw new CdnConfigError(`${field}.${key}`, `unknown key (known: ${known.join(', ')})`)
  }
}
