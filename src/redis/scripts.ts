import type { RedisClient } from './connection.js'

/**
 * The Lua scripts that make coherence atomic. Each runs on one slot: the per-key scripts touch
 * `entry`, `lease` and `tombstone` of one key (same hash tag), the bus script touches the tag
 * versions and the stream of one namespace (same hash tag). See keys.ts.
 *
 * Lease protocol (Nishtala et al., "Scaling Memcache at Facebook", NSDI 2013, section 3.2.1):
 * a reader that finds no fresh entry takes a lease token; `invalidate` and `setEntry` delete the
 * lease; a fill is written only if its token still holds the lease. So the interleaving
 * "fill reads v1, writer commits v2 and invalidates, fill writes v1" cannot leave v1 behind:
 * the invalidation voided the token the fill carries.
 */

/** Byte offset + 1 (Lua strings are 1-based) of `freshUntil` in the entry envelope (envelope.ts). */
const FRESH_UNTIL_LUA_OFFSET = 13
/** Same, for the source version (NaN when none; `x == x` is false only for NaN). */
const VERSION_LUA_OFFSET = 37

/**
 * KEYS: entry, lease. ARGV: now (epoch ms), token, lease ms, force ('1' skips the freshness test).
 * Returns {0, entry} fresh | {1[, stale entry]} lease acquired | {2[, stale entry]} lease held.
 * A lease already held by this very token counts as acquired (and is renewed): a caller whose
 * earlier read timed out after the script ran holds the lease without knowing it, and must not
 * wait for itself.
 */
const READ_FOR_FILL = `
local e = redis.call('GET', KEYS[1])
if e and ARGV[4] ~= '1' and string.len(e) >= 46 and string.byte(e, 1) == 199 then
  local fresh = struct.unpack('<d', e, ${FRESH_UNTIL_LUA_OFFSET})
  if fresh > tonumber(ARGV[1]) then return {0, e} end
end
local status = 2
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
  status = 1
elseif redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  status = 1
end
if e then return {status, e} end
return {status}
`

/**
 * KEYS: entry, lease, tombstone. ARGV: token, envelope, pttl, version ('' for none).
 * Returns 1 written | 0 lease lost | -1 older than the last invalidated version.
 */
const FILL_WITH_LEASE = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[4] ~= '' then
  local t = redis.call('GET', KEYS[3])
  if t and tonumber(t) > tonumber(ARGV[4]) then return -1 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`

/** KEYS: lease. ARGV: token. Compare-and-delete. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * KEYS: entry, lease, tombstone. ARGV: envelope, pttl, version ('' for none).
 * An explicit write voids any lease first: fills in flight read data older than this value. With a
 * version, it loses to a newer invalidation and to a stored entry of a newer version (two
 * write-through writers committing v2 then v3 may reach Redis as v3 then v2: v2 must not win).
 * Returns 1 written (or deleted, when pttl <= 0) | -1 older than what Redis has seen.
 */
const SET_ENTRY = `
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '' then
  local v = tonumber(ARGV[3])
  local t = redis.call('GET', KEYS[3])
  if t and tonumber(t) > v then return -1 end
  local e = redis.call('GET', KEYS[1])
  if e and string.len(e) >= 46 and string.byte(e, 1) == 199 then
    local ev = struct.unpack('<d', e, ${VERSION_LUA_OFFSET})
    if ev == ev and ev > v then return -1 end
  end
end
if tonumber(ARGV[2]) <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`

/**
 * SET_ENTRY for many keys in one call (standalone Redis only: the keys span many Cluster slots).
 * KEYS: entry, lease, tombstone per key. ARGV: envelope, pttl, version per key. Returns 1 | -1 per key.
 */
const SET_ENTRIES = `
local out = {}
-- Key i (entry), i + 1 (lease), i + 2 (tombstone) go with arguments i, i + 1, i + 2.
for i = 1, #KEYS, 3 do
  redis.call('DEL', KEYS[i + 1])
  local result = 1
  local v = ARGV[i + 2]
  if v ~= '' then
    local t = redis.call('GET', KEYS[i + 2])
    if t and tonumber(t) > tonumber(v) then result = -1 end
    if result == 1 then
      local e = redis.call('GET', KEYS[i])
      if e and string.len(e) >= 46 and string.byte(e, 1) == 199 then
        local ev = struct.unpack('<d', e, ${VERSION_LUA_OFFSET})
        if ev == ev and ev > tonumber(v) then result = -1 end
      end
    end
  end
  if result == 1 then
    if tonumber(ARGV[i + 1]) <= 0 then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[i + 1]) end
  end
  out[#out + 1] = result
end
return out
`

/**
 * KEYS: entry, lease, tombstone. ARGV: version ('' for none), tombstone ms.
 * Deletes the entry, voids the lease, and raises the tombstone to `version`, or to the deleted
 * entry's own version when that is newer: an invalidation that arrives late (an outbox retry after a
 * lost connection) can delete an entry written after it, and the tombstone must then keep refusing
 * whatever is older than that entry, or a delayed write of an older version would take its place.
 */
const INVALIDATE = `
local fence = ARGV[1]
if fence ~= '' then
  local e = redis.call('GET', KEYS[1])
  if e and string.len(e) >= 46 and string.byte(e, 1) == 199 then
    local ev = struct.unpack('<d', e, ${VERSION_LUA_OFFSET})
    if ev == ev and ev > tonumber(fence) then fence = string.format('%.17g', ev) end
  end
end
local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
if fence ~= '' then
  local t = redis.call('GET', KEYS[3])
  if (not t) or tonumber(t) < tonumber(fence) then redis.call('SET', KEYS[3], fence, 'PX', ARGV[2]) end
end
return n
`

/**
 * KEYS: stream, epoch, tag keys... ARGV: max stream length, message JSON, tag ttl ms, new epoch id,
 * format version.
 * Bumps every tag version to max(old + 1, Redis time in microseconds) (versions never repeat, even
 * after a tag key expired), then appends the message with the new versions, in one step: no node
 * can read the message before the versions exist, and no version exists without its message.
 * Returns {stream id, version...}.
 */
const PUBLISH = `
redis.call('SET', KEYS[2], ARGV[4], 'NX')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local versions = {}
for i = 3, #KEYS do
  local cur = tonumber(redis.call('GET', KEYS[i]) or '0')
  local v = math.max(cur + 1, now)
  redis.call('SET', KEYS[i], string.format('%.0f', v), 'PX', ARGV[3])
  versions[#versions + 1] = string.format('%.0f', v)
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', ARGV[5], 'm', ARGV[2], 'tv', table.concat(versions, ','))
return {id, unpack(versions)}
`

/**
 * KEYS: lock, fence. ARGV: token, ttl ms, fence ttl ms. Returns the fencing token, or nil when held.
 * The fence is max(old + 1, Redis time in microseconds), like tag versions: it keeps growing even
 * after the fence key expired, so it can carry a TTL (refreshed at every acquire) instead of one
 * key per lock name ever used staying in Redis forever.
 */
const LOCK_ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local fence = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, now)
redis.call('SET', KEYS[2], string.format('%.0f', fence), 'PX', ARGV[3])
return string.format('%.0f', fence)
`

/** KEYS: lock. ARGV: token, ttl ms. Compare-and-pexpire. */
const LOCK_EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`

/**
 * Write-through fencing (see ports/write-fence.ts). While write-throughs of a key are in flight, its
 * lease key holds their tokens as `,<token>,<token>`: a fill lease token never starts with a comma,
 * so the fill scripts above see the key as held by someone else (a fill in flight loses its lease,
 * a new fill waits) without knowing about write tokens. `invalidate` and `setEntry` delete the key,
 * which voids every write token at once: the write-throughs in flight then invalidate instead of
 * writing (a concurrent invalidation wins).
 *
 * Removing one token from the list: `padded` = list .. ',' holds `,<token>,` exactly once (tokens
 * are random and of one length); the list without it is what surrounds that match, minus the
 * trailing comma.
 */
const REMOVE_TOKEN = `
local function removeToken(list, token)
  if not list then return nil end
  local padded = list .. ','
  local s, e = string.find(padded, ',' .. token .. ',', 1, true)
  if not s then return nil end
  local rest = string.sub(padded, 1, s - 1) .. string.sub(padded, e)
  return string.sub(rest, 1, string.len(rest) - 1)
end
`

/** KEYS: lease. ARGV: token, ttl ms. A fill lease is replaced (its fill read older data); write tokens are kept. */
const WRITE_BEGIN = `
local cur = redis.call('GET', KEYS[1])
local list = ''
if cur and string.sub(cur, 1, 1) == ',' then list = cur end
redis.call('SET', KEYS[1], list .. ',' .. ARGV[1], 'PX', ARGV[2])
return 1
`

/**
 * KEYS: entry, lease, tombstone. ARGV: token, envelope, pttl, version ('' for none).
 * Returns 1 written | 0 token gone (invalidated, set or expired meanwhile) | -1 older than the
 * stored entry's version or the tombstone. The token is withdrawn in every case.
 */
const WRITE_COMMIT = `${REMOVE_TOKEN}
local rest = removeToken(redis.call('GET', KEYS[2]), ARGV[1])
if rest == nil then return 0 end
if rest == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], rest, 'KEEPTTL') end
if ARGV[4] ~= '' then
  local v = tonumber(ARGV[4])
  local t = redis.call('GET', KEYS[3])
  if t and tonumber(t) > v then return -1 end
  local e = redis.call('GET', KEYS[1])
  if e and string.len(e) >= 46 and string.byte(e, 1) == 199 then
    local ev = struct.unpack('<d', e, ${VERSION_LUA_OFFSET})
    if ev == ev and ev > v then return -1 end
  end
end
if tonumber(ARGV[3]) <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`

/** KEYS: lease. ARGV: token. Withdraws the token; returns 1 if it was there. */
const WRITE_ABORT = `${REMOVE_TOKEN}
local rest = removeToken(redis.call('GET', KEYS[1]), ARGV[1])
if rest == nil then return 0 end
if rest == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], rest, 'KEEPTTL') end
return 1
`

/** KEYS: entry. ARGV: version. Deletes the entry only if it carries exactly that source version. */
const DELETE_IF_VERSION = `
local e = redis.call('GET', KEYS[1])
if e and string.len(e) >= 46 and string.byte(e, 1) == 199 then
  local ev = struct.unpack('<d', e, ${VERSION_LUA_OFFSET})
  if ev == tonumber(ARGV[1]) then return redis.call('DEL', KEYS[1]) end
end
return 0
`

/**
 * Write-behind queue (see write-queue-entry.ts for the entry fields).
 * KEYS: stream, seq. ARGV: max pending (0: none), then per write: key, at, serializer id, bytes.
 * Appends the writes in order; a write finding max pending entries in the stream (acknowledged
 * entries are deleted, so its length is what is pending) is refused. Sequence numbers are
 * max(last + 1, Redis time in µs), so they keep growing even after the sequence key was lost.
 * Returns per write {1, id, seq} | {0, length, ''}.
 */
const QUEUE_ENQUEUE = `
local max = tonumber(ARGV[1])
local n = redis.call('XLEN', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local out = {}
local wrote = false
for i = 2, #ARGV, 4 do
  if max > 0 and n >= max then
    out[#out + 1] = 0
    out[#out + 1] = n
    out[#out + 1] = ''
  else
    last = math.max(last + 1, now)
    local seq = string.format('%.0f', last)
    local id = redis.call('XADD', KEYS[1], '*', 'v', '1', 'k', ARGV[i], 's', seq, 't', ARGV[i + 1], 'z', ARGV[i + 2], 'd', ARGV[i + 3])
    n = n + 1
    out[#out + 1] = 1
    out[#out + 1] = id
    out[#out + 1] = seq
    wrote = true
  end
end
if wrote then redis.call('SET', KEYS[2], string.format('%.0f', last)) end
return out
`

/** KEYS: stream. ARGV: group, ids... Acknowledges and deletes, in one step (never an acknowledged entry left counted as pending). */
const QUEUE_ACK = `
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return redis.call('XDEL', KEYS[1], unpack(ids))
`

/**
 * KEYS: stream, dead. ARGV: group, id, key, seq, at, serializer id, bytes, attempts, error, dead at.
 * Appends the write to the dead letters and removes it from the queue, in one step.
 */
const QUEUE_BURY = `
redis.call('XADD', KEYS[2], '*', 'v', '1', 'k', ARGV[3], 's', ARGV[4], 't', ARGV[5], 'z', ARGV[6], 'd', ARGV[7],
  'a', ARGV[8], 'e', ARGV[9], 'x', ARGV[10])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
`

/**
 * KEYS: stream, dead. ARGV: ids... Moves dead letters back to the queue with their sequence
 * numbers (a flush then keeps whichever of them and newer writes is newest), marked `r` with the
 * attempts they had. Returns how many.
 */
const QUEUE_RETRY_DEAD = `
local n = 0
for i = 1, #ARGV do
  local found = redis.call('XRANGE', KEYS[2], ARGV[i], ARGV[i])
  if #found == 1 then
    local f = found[1][2]
    local m = {}
    for j = 1, #f, 2 do m[f[j]] = f[j + 1] end
    redis.call('XADD', KEYS[1], '*', 'v', m['v'] or '', 'k', m['k'] or '', 's', m['s'] or '', 't', m['t'] or '', 'z', m['z'] or '', 'd', m['d'] or '',
      'r', m['a'] or '0')
    redis.call('XDEL', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
`

/** The scripts' methods once defined on a client. */
export interface ScriptCommands {
  /** The `Buffer` variant (ioredis defines one per script): the entry comes back as raw bytes, not UTF-8 text. */
  tcReadForFillBuffer(entry: string, lease: string, now: number, token: string, leaseMs: number, force: string): Promise<[number, Buffer?]>
  tcFillWithLease(entry: string, lease: string, tombstone: string, token: string, envelope: Buffer, pttl: number, version: string): Promise<number>
  tcReleaseLease(lease: string, token: string): Promise<number>
  tcSetEntry(entry: string, lease: string, tombstone: string, envelope: Buffer, pttl: number, version: string): Promise<number>
  tcSetEntries(numberOfKeys: number, ...keysAndArgs: (string | number | Buffer)[]): Promise<number[]>
  tcInvalidate(entry: string, lease: string, tombstone: string, version: string, tombstoneMs: number): Promise<number>
  tcPublish(...args: (string | number)[]): Promise<string[]>
  tcLockAcquire(lock: string, fence: string, token: string, ttlMs: number, fenceTtlMs: number): Promise<string | null>
  tcLockExtend(lock: string, token: string, ttlMs: number): Promise<number>
  tcWriteBegin(lease: string, token: string, ttlMs: number): Promise<number>
  tcWriteCommit(entry: string, lease: string, tombstone: string, token: string, envelope: Buffer, pttl: number, version: string): Promise<number>
  tcWriteAbort(lease: string, token: string): Promise<number>
  tcDeleteIfVersion(entry: string, version: string): Promise<number>
  tcQueueEnqueue(stream: string, seq: string, maxPending: number, ...writes: (string | number | Buffer)[]): Promise<(string | number)[]>
  tcQueueAck(stream: string, group: string, ...ids: string[]): Promise<number>
  tcQueueBury(stream: string, dead: string, group: string, id: string, key: string, seq: string, at: number, serializer: number, bytes: Buffer,
    attempts: number, error: string, deadAt: number): Promise<number>
  tcQueueRetryDead(stream: string, dead: string, ...ids: string[]): Promise<number>
}

/** Script names as defined on the client (ioredis adds a `<name>Buffer` variant of each). */
const DEFINITIONS: readonly [string, number, string][] = [
  ['tcReadForFill', 2, READ_FOR_FILL],
  ['tcFillWithLease', 3, FILL_WITH_LEASE],
  ['tcReleaseLease', 1, RELEASE_LEASE],
  ['tcSetEntry', 3, SET_ENTRY],
  ['tcInvalidate', 3, INVALIDATE],
  ['tcLockAcquire', 2, LOCK_ACQUIRE],
  ['tcLockExtend', 1, LOCK_EXTEND],
  ['tcWriteBegin', 1, WRITE_BEGIN],
  ['tcWriteCommit', 3, WRITE_COMMIT],
  ['tcWriteAbort', 1, WRITE_ABORT],
  ['tcDeleteIfVersion', 1, DELETE_IF_VERSION],
  ['tcQueueEnqueue', 2, QUEUE_ENQUEUE],
  ['tcQueueAck', 1, QUEUE_ACK],
  ['tcQueueBury', 2, QUEUE_BURY],
  ['tcQueueRetryDead', 2, QUEUE_RETRY_DEAD],
]

/**
 * Defines the scripts on a client (EVALSHA with EVAL fallback, by ioredis). Idempotent. Returns the
 * client typed with the script methods. The publish script has a variable key count.
 */
export function withScripts(client: RedisClient): RedisClient & ScriptCommands {
  const c = client as RedisClient & Partial<ScriptCommands>
  if (typeof c.tcReadForFillBuffer !== 'function') {
    for (const [name, numberOfKeys, lua] of DEFINITIONS) client.defineCommand(name, { numberOfKeys, lua })
    client.defineCommand('tcPublish', { lua: PUBLISH })
    client.defineCommand('tcSetEntries', { lua: SET_ENTRIES })
  }
  return c as RedisClient & ScriptCommands
}
