import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isStreamTag } from '../../src/http/invalidation-stream.js'
import { MAX_TAGS_PER_RESPONSE, TagIndex, isTag, parseSurrogateKey } from '../../src/client/tag-index.js'

describe('Surrogate-Key parsing', () => {
  it('reads space-separated tags, once each, leaving out what is not a tag', () => {
    expect(parseSurrogateKey('product:1  products product:1')).toEqual(['product:1', 'products'])
    expect(parseSurrogateKey('a,b c')).toEqual(['c'])
    expect(parseSurrogateKey(`${'x'.repeat(201)} ok`)).toEqual(['ok'])
    expect(parseSurrogateKey(null)).toEqual([])
    expect(parseSurrogateKey('')).toEqual([])
  })

  it('reads at most MAX_TAGS_PER_RESPONSE tags', () => {
    const header = Array.from({ length: 500 }, (_, i) => `t${i}`).join(' ')
    expect(parseSurrogateKey(header)).toHaveLength(MAX_TAGS_PER_RESPONSE)
  })

  it('accepts exactly the tags the server\'s event stream accepts', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 210 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('x'.repeat(200), 'x'.repeat(201))), (tag) => {
      expect(isTag(tag)).toBe(isStreamTag(tag))
    }), { numRuns: 2000 })
  })

  it('accepts the tags a catalog uses, refuses spaces, commas, non-ASCII and control characters', () => {
    for (const ok of ['product:1', 'products', 'a/b-c_d.e', '~!@#$%^&*()']) expect(isTag(ok)).toBe(true)
    for (const bad of ['', 'a b', 'a,b', 'caf\u00e9', 'a\nb', 'x'.repeat(201), 42]) expect(isTag(bad)).toBe(false)
  })
})

describe('TagIndex', () => {
  it('finds the URLs of a tag, and forgets a removed URL', () => {
    const index = new TagIndex()
    index.add('/api/products/1', ['product:1', 'products'])
    index.add('/api/products?top=5', ['products'])
    expect(index.drop(['product:1']).sort()).toEqual(['/api/products/1'])
    expect(index.drop(['products']).sort()).toEqual(['/api/products/1', '/api/products?top=5'])
    index.remove('/api/products/1')
    expect(index.drop(['product:1'])).toEqual([])
    expect(index.drop(['products'])).toEqual(['/api/products?top=5'])
    expect(index.size).toBe(1)
  })

  it('re-adding a URL replaces its tags', () => {
    const index = new TagIndex()
    index.add('/a', ['x'])
    index.add('/a', ['y'])
    expect(index.drop(['x'])).toEqual([])
    expect(index.drop(['y'])).toEqual(['/a'])
    expect(index.tagsOf('/a')).toEqual(['y'])
  })

  it('refuses a response fetched before a drop of one of its tags (the revalidation / invalidation race)', () => {
    const index = new TagIndex()
    const since = index.generation
    index.drop(['product:1'])
    expect(index.isCurrent(['product:1'], since)).toBe(false)
    expect(index.isCurrent(['product:2'], since)).toBe(true)
    // A fetch begun after the drop is fine.
    expect(index.isCurrent(['product:1'], index.generation)).toBe(true)
  })

  it('after dropAll (a resync), refuses every fetch begun before it and answers every tagged URL', () => {
    const index = new TagIndex()
    index.add('/a', ['x'])
    index.add('/b', ['y'])
    const since = index.generation
    expect(index.dropAll().sort()).toEqual(['/a', '/b'])
    expect(index.isCurrent(['z'], since)).toBe(false)
    expect(index.isCurrent(['z'], index.generation)).toBe(true)
  })

  it('stays bounded when very many distinct tags are dropped, and stays safe (refuses fetches begun before)', () => {
    const index = new TagIndex()
    const since = index.generation
    for (let i = 0; i < 10_050; i++) index.drop([`t${i}`])
    expect(index.isCurrent(['never-dropped'], since)).toBe(false)
    expect(index.isCurrent(['t10049'], index.generation)).toBe(true)
  })
})
