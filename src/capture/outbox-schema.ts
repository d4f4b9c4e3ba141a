import type { Database } from '../db/database.js'
import { CaptureConfigError } from './capture-errors.js'
import type { CaptureMapping, TableMapping } from './mapping.js'

/** The names the outbox mode uses, all derived from the mapping's `outbox` base name. */
export interface OutboxNames {
  /** The table triggers append to. */
  readonly outbox: string
  /** One row per outbox: the invalidator's cursor and lease. */
  readonly state: string
  /** The trigger function (one, shared by every mapped table; its arguments say what to record). */
  readonly fn: string
  /** The trigger's name on each mapped table. */
  readonly trigger: string
  /** The NOTIFY channel that wakes the invalidator. */
  readonly channel: string
}

export function outboxNames(mapping: CaptureMapping): OutboxNames {
  const base = mapping.outbox
  return { outbox: `${base}_outbox`, state: `${base}_state`, fn: `${base}_capture`, trigger: `${base}_capture`, channel: `${base}_wake` }
}

/** SQL text literal. The mapping's names are checked identifiers already; this is for the column lists. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/**
 * The installation, as one script run in one transaction (all or nothing) and idempotent: it can
 * run again after a mapping change (triggers are replaced with the new column lists) or by two
 * processes at once (an advisory lock serializes them).
 *
 * The trigger runs in the writer's transaction: a change and its outbox row commit together or
 * not at all (a rolled-back transaction leaves no row, so it invalidates nothing). Each row
 * records the mapped columns of the old and/or new row image, the operation, and the writer's
 * transaction id (what a caller waiting for its own write to be published waits for; see
 * outbox-capture.ts). The NOTIFY is delivered at commit and only wakes the invalidator.
 */
export function installScript(mapping: CaptureMapping): string {
  const n = outboxNames(mapping)
  const lines = [
    `select pg_advisory_xact_lock(hashtext(${literal(n.outbox)}))`,
    `create table if not exists ${n.outbox} (
      id bigserial primary key,
      xid bigint not null default (pg_current_xact_id()::text::bigint),
      table_name text not null,
      op text not null,
      row_values jsonb not null,
      version bigint,
      written_at timestamptz not null default clock_timestamp())`,
    `create table if not exists ${n.state} (
      name text primary key,
      cursor_xid bigint not null default 0, -- the last change published (for operators; the outbox is the queue)
      cursor_id bigint not null default 0,
      holder text,
      lease_until timestamptz)`,
    `insert into ${n.state} (name) values (${literal(mapping.outbox)}) on conflict (name) do nothing`,
    // TG_ARGV: [0] the table as mapped, [1] the version column or '', [2..] the mapped columns.
    // Values are recorded as text (->>), as PostgreSQL prints them: a bigint key survives whole
    // (a JSON number would lose digits past 2^53 in JavaScript).
    `create or replace function ${n.fn}() returns trigger language plpgsql as $fn$
    declare
      cols text[] := tg_argv[2:];
      ver text := tg_argv[1];
      o jsonb;
      nw jsonb;
      po jsonb;
      pn jsonb;
      v bigint;
    begin
      if tg_op <> 'INSERT' then
        o := to_jsonb(old);
        select coalesce(jsonb_object_agg(c, o ->> c), '{}'::jsonb) into po from unnest(cols) as c;
      end if;
      if tg_op <> 'DELETE' then
        nw := to_jsonb(new);
        select coalesce(jsonb_object_agg(c, nw ->> c), '{}'::jsonb) into pn from unnest(cols) as c;
      end if;
      if ver <> '' then v := coalesce(nw ->> ver, o ->> ver)::bigint; end if;
      if po is not null then
        insert into ${n.outbox} (table_name, op, row_values, version) values (tg_argv[0], lower(tg_op), po, v);
      end if;
      -- The new image too when it keys differently (an insert, or an update of a mapped column).
      if pn is not null and (po is null or po is distinct from pn) then
        insert into ${n.outbox} (table_name, op, row_values, version) values (tg_argv[0], lower(tg_op), pn, v);
      end if;
      perform pg_notify(${literal(n.channel)}, '');
      return null;
    end
    $fn$`,
  ]
  for (const t of mapping.tables) {
    const args = [t.table, t.version ?? '', ...t.columns].map(literal).join(', ')
    lines.push(`create or replace trigger ${n.trigger} after insert or update or delete on ${qualified(t)}
      for each row execute function ${n.fn}(${args})`)
  }
  return `${lines.join(';\n')};`
}

/** Installs (or updates) the outbox, its state row, and a trigger on every mapped table. Checks the mapping first. */
export async function installOutbox(db: Database, mapping: CaptureMapping): Promise<void> {
  await checkMappingAgainst(db, mapping)
  await db.exec(installScript(mapping))
}

function qualified(t: TableMapping): string {
  return t.schema === undefined ? `"${t.name}"` : `"${t.schema}"."${t.name}"`
}

/**
 * Checks the mapping against the database's catalog: every table exists, every column a template
 * or `version` names exists, and a key template names every primary-key column (else two rows
 * would share one cache key). One `E_CDC_SCHEMA` naming the first problem found.
 */
export async function checkMappingAgainst(db: Database, mapping: CaptureMapping): Promise<void> {
  for (const t of mapping.tables) {
    const { rows } = await db.query<{ column_name: string; is_pk: boolean }>(`
      select a.attname as column_name,
             coalesce(a.attnum = any (i.indkey::int2[]), false) as is_pk
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        left join pg_index i on i.indrelid = c.oid and i.indisprimary
       where c.oid = to_regclass($1) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped`, [qualified(t)])
    if (rows.length === 0) {
      throw new CaptureConfigError('E_CDC_SCHEMA', `tables.${t.table}: no table ${t.table} in this database${t.schema === undefined ? ' (on the search path)' : ''}`, { table: t.table })
    }
    const columns = new Set(rows.map((r) => r.column_name))
    for (const column of [...t.columns, ...(t.version === undefined ? [] : [t.version])]) {
      if (!columns.has(column)) {
        throw new CaptureConfigError('E_CDC_SCHEMA',
          `tables.${t.table}: no column ${column} in ${t.table} (it has ${[...columns].join(', ')})`, { table: t.table, column })
      }
    }
    const pk = rows.filter((r) => r.is_pk).map((r) => r.column_name)
    if (t.key !== undefined) {
      if (pk.length === 0) {
        throw new CaptureConfigError('E_CDC_SCHEMA', `tables.${t.table}.key: ${t.table} has no primary key, so a key template cannot name one row`, { table: t.table })
      }
      const missing = pk.filter((c) => !t.key!.columns.includes(c))
      if (missing.length > 0) {
        throw new CaptureConfigError('E_CDC_SCHEMA',
          `tables.${t.table}.key: ${JSON.stringify(t.key.source)} must name every primary-key column (missing ${missing.map((c) => `{${c}}`).join(', ')}), else rows share a key`,
          { table: t.table, columns: missing })
      }
    }
  }
}

/** Checks that `--install` ran for this mapping: the outbox, its state row and each table's trigger. */
export async function checkInstalled(db: Database, mapping: CaptureMapping): Promise<void> {
  const n = outboxNames(mapping)
  const { rows } = await db.query<{ outbox: string | null; state: string | null }>(
    'select to_regclass($1)::text as outbox, to_regclass($2)::text as state', [n.outbox, n.state])
  if (rows[0]?.outbox === null || rows[0]?.state === null) {
    throw new CaptureConfigError('E_CDC_SCHEMA', `the outbox ${n.outbox} is not installed in this database: run tiercache cdc --install with this mapping first`)
  }
  for (const t of mapping.tables) {
    const { rows: triggers } = await db.query(`
      select 1 from pg_trigger g where g.tgrelid = to_regclass($1) and g.tgname = $2`, [qualified(t), n.trigger])
    if (triggers.length === 0) {
      throw new CaptureConfigError('E_CDC_SCHEMA', `tables.${t.table}: no capture trigger on ${t.table}: run tiercache cdc --install with this mapping`, { table: t.table })
    }
  }
  await db.query(`insert into ${n.state} (name) values ($1) on conflict (name) do nothing`, [mapping.outbox])
}
