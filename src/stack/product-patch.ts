import { RequestError } from './request-error.js'

/** The largest value a PostgreSQL `integer` column holds. */
const MAX_INT4 = 2_147_483_647

/** The fields a product update may set; the others (id, version, updated_at) are the database's. */
export interface ProductPatch {
  readonly name?: string
  readonly price_cents?: number
  readonly stock?: number
  readonly popularity?: number
}

const WRITABLE = ['name', 'price_cents', 'stock', 'popularity'] as const
const WRITABLE_RULE = `one of ${WRITABLE.join(', ')}`
const INTEGER_RULE = `an integer from 0 to ${MAX_INT4}`
const NAME_RULE = 'a string of 1 to 200 characters, without control characters'

/**
 * Checks a parsed request body as a product update, all of it before anything is written: one
 * field out of range refuses the whole update. Each refusal names the field and the rule. The
 * rules are the table's (integer columns hold 0..2^31-1; text refuses NUL), checked here so the
 * database never has to refuse, since its refusal would come after the work started.
 */
export function parseProductPatch(body: unknown): ProductPatch {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(400, 'body', `a JSON object with ${WRITABLE_RULE}`, 'the body must be a JSON object')
  }
  const fields = Object.keys(body)
  const unknown = fields.find((field) => !(WRITABLE as readonly string[]).includes(field))
  if (unknown !== undefined) {
    throw new RequestError(400, unknown, WRITABLE_RULE, `unknown field ${JSON.stringify(unknown.slice(0, 100))}: a product update sets ${WRITABLE_RULE}`)
  }
  if (fields.length === 0) throw new RequestError(400, 'body', `a JSON object with ${WRITABLE_RULE}`, 'nothing to update')
  const record = body as Record<string, unknown>
  const patch: { name?: string; price_cents?: number; stock?: number; popularity?: number } = {}
  if ('name' in record) patch.name = checkName(record.name)
  if ('price_cents' in record) patch.price_cents = checkCount('price_cents', record.price_cents)
  if ('stock' in record) patch.stock = checkCount('stock', record.stock)
  if ('popularity' in record) patch.popularity = checkCount('popularity', record.popularity)
  return patch
}

/** A new product: a patch that sets name, price_cents and stock (popularity defaults to 0). */
export function parseNewProduct(body: unknown): Required<Omit<ProductPatch, 'popularity'>> & ProductPatch {
  const patch = parseProductPatch(body)
  for (const field of ['name', 'price_cents', 'stock'] as const) {
    if (patch[field] === undefined) throw new RequestError(400, field, field === 'name' ? NAME_RULE : INTEGER_RULE, `${field} is required to create a product`)
  }
  return patch as Required<Omit<ProductPatch, 'popularity'>> & ProductPatch
}

function checkCount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_INT4) throw new RequestError(400, field, INTEGER_RULE)
  return value === 0 ? 0 : value // -0 is stored as 0; say so in what is returned too
}

function checkName(value: unknown): string {
  // \p{Cc}: control characters (NUL, which PostgreSQL text refuses, among them); \p{Cs} in a /u
  // regex matches only unpaired surrogates: text that has no UTF-8 form.
  if (typeof value !== 'string' || value.trim() === '' || [...value].length > 200 || /\p{Cc}|\p{Cs}/u.test(value)) {
    throw new RequestError(400, 'name', NAME_RULE)
  }
  return value
}
