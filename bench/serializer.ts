/**
 * Serializers on the L2 path: encode + decode of the core benchmark's ~1 KB value, JSON (the
 * default) against V8's structured clone, in one run.
 *   npm run bench:serializer
 */
import { jsonSerializer, v8Serializer } from '../src/core/serializer.js'
import type { Serializer } from '../src/core/serializer.js'
import { compare, printTable } from './lib/harness.js'

const value = {
  id: 42, sku: 'SKU-00000042', name: 'Product number 42', price: 42.99, inStock: true,
  tags: ['catalog', 'category-42', 'brand-2'],
  description: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. '.repeat(6),
  updatedAt: '2026-11-27T12:00:00.000Z',
}

let sink = 0
const contender = (name: string, s: Serializer, part: 'both' | 'decode') => {
  const bytes = s.serialize(value).bytes
  return {
    name: `${s.name} ${part === 'both' ? 'serialize+deserialize' : 'deserialize'} (${bytes.length} B)`,
    ops: 200_000,
    run: (ops: number) => {
      for (let i = 0; i < ops; i++) {
        const b = part === 'both' ? s.serialize(value).bytes : bytes
        sink += (s.deserialize(b) as { id: number }).id
      }
    },
  }
}

const results = await compare([
  contender('json', jsonSerializer, 'both'),
  contender('v8', v8Serializer, 'both'),
  contender('json', jsonSerializer, 'decode'),
  contender('v8', v8Serializer, 'decode'),
], 7)
printTable('Serializers, ~1 KB value', results, [results[0]!.name, results[2]!.name])
if (sink === 0) throw new Error('unreachable')
