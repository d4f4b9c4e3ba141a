import { describe, expect, it } from 'vitest'
import { parseCaptureMapping, renderTemplate } from '../../src/capture/mapping.js'
import { installScript } from '../../src/capture/outbox-schema.js'
import * as tiercache from '../../src/index.js'

function refusal(input: unknown): { code: unknown; message: string } {
  try {
    parseCaptureMapping(input)
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message }
  }
  throw new Error('the mapping was accepted')
}

describe('capture mapping', () => {
  it('parses several tables, composite keys, constant tags and a version column', () => {
    const mapping = parseCaptureMapping({
      tables: {
        products: { key: 'product:{id}', tags: ['product:{id}', 'products', 'category:{category_id}'], version: 'version' },
        'shop.order_lines': { key: 'order:{order_id}:line:{line_no}', tags: ['order:{order_id}'] },
      },
    })
    expect(mapping.outbox).toBe('tiercache_cdc')
    expect(mapping.tables.map((t) => [t.table, t.schema, t.name, t.columns])).toEqual([
      ['products', undefined, 'products', ['id', 'category_id']],
      ['shop.order_lines', 'shop', 'order_lines', ['order_id', 'line_no']],
    ])
    const lines = mapping.tables[1]!
    expect(renderTemplate(lines.key!, { order_id: 42, line_no: 3 })).toBe('order:42:line:3')
    expect(renderTemplate(lines.tags[0]!, { order_id: 'a b' })).toBe('order:a b')
    // A null column names no entry: the tag is left out rather than invalidating "category:null".
    expect(renderTemplate(mapping.tables[0]!.tags[2]!, { id: 1, category_id: null })).toBeUndefined()
  })

  it.each([
    [null, 'mapping'],
    [{ tables: {} }, 'tables'],
    [{ tables: { products: { key: 'product:{id}' } }, extra: 1 }, 'unknown key "extra"'],
    [{ tables: { products: { key: 'product:{id}', ttl: '5m' } } }, 'tables.products.ttl: unknown key "ttl"'],
    [{ tables: { products: {} } }, 'tables.products: name a key template, tags, or both'],
    [{ tables: { products: { key: 'all-products' } } }, 'tables.products.key: a key must name the row'],
    [{ tables: { products: { key: 'product:{Id}' } } }, '{Id} is not a column name'],
    [{ tables: { products: { key: 'product:{id' } } }, 'unbalanced brace'],
    [{ tables: { products: { tags: 'products' } } }, 'tables.products.tags: expected an array'],
    [{ tables: { products: { tags: ['ok', ''] } } }, 'tables.products.tags[1]'],
    [{ tables: { products: { key: 'p:{id}', version: 'v; drop table x' } } }, 'tables.products.version'],
    [{ tables: { 'Products': { key: 'p:{id}' } } }, 'tables.Products'],
    [{ tables: { 'a.b.c': { key: 'p:{id}' } } }, 'tables.a.b.c'],
    [{ tables: { 'x"; drop': { key: 'p:{id}' } } }, 'lower-case identifier'],
    [{ outbox: 'Bad-Name', tables: { products: { key: 'p:{id}' } } }, 'outbox'],
  ])('refuses %j with E_CDC_CONFIG naming %s', (input, named) => {
    const { code, message } = refusal(input)
    expect(code).toBe('E_CDC_CONFIG')
    expect(message).toContain(named)
  })

  it('the install script quotes every name and records only the mapped columns', () => {
    const script = installScript(parseCaptureMapping({ outbox: 'cap', tables: { 'shop.lines': { key: 'line:{order_id}:{line_no}' } } }))
    expect(script).toContain('create or replace trigger cap_capture after insert or update or delete on "shop"."lines"')
    expect(script).toContain("execute function cap_capture('shop.lines', '', 'order_id', 'line_no')")
    expect(script).toContain('create table if not exists cap_outbox')
    expect(script).toContain("pg_notify('cap_wake', '')")
  })

  it('both capture modes are exported by the package, the logical one checking its options before it connects', async () => {
    expect(typeof tiercache.startOutboxCapture).toBe('function')
    const mapping = tiercache.parseCaptureMapping({ tables: { products: { key: 'product:{id}' } } })
    await expect(tiercache.startLogicalCapture({ databaseUrl: 'postgres://127.0.0.1:1/x', mapping, sink: { invalidate: () => Promise.resolve(true) }, retryInterval: 0 }))
      .rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
  })
})
