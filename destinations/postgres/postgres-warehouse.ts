/**
 * Loads batches into a PostgreSQL warehouse, one transaction per load:
 * 1. a transaction-scoped advisory lock on the schema, so that loaders of any process (and of
 *    other destinations writing to the same schema) never race on DDL or on the same rows;
 * 2. the schema as it is (information_schema), planned against the batch (load-plan.ts); new
 *    tables created with `id` as primary key, new columns added with one ALTER TABLE per table;
 * 3. per table, the rows whose `id` the table lacks are written with COPY (an id is one event:
 *    a row that is there already is that event); `users` rows go through a temporary table into
 *    an insert-or-update by `id` that sets only the columns the load has a value for, so older
 *    traits stay. (COPY straight into the table is what keeps a load near the speed of a plain
 *    COPY; the schema lock keeps any other loader from writing the same ids meanwhile.)
 * 4. the discarded values into sluice_discards, keyed by (table, row, column).
 * A load that is run again leaves every `id` once, so the loader may repeat a load whose commit
 * it did not see.
 */
import type pg from 'pg';
import pgPool from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { withTransaction } from '../../src/db/transaction';
import type { ColumnType, Discard } from '../../src/warehouse/event-rows';
import {
  planLoad,
  type LoadPlan,
  type SchemaState,
  type TableLoad,
} from '../../src/warehouse/load-plan';
import {
  DISCARDS_TABLE,
  type LoadSummary,
  type Warehouse,
  type WarehouseBatch,
} from '../../src/warehouse/warehouse';
import { POSTGRES_DIALECT } from './dialect';

const TYPES: Record<ColumnType, string> = {
  timestamp: 'timestamptz',
  int: 'bigint',
  float: 'double precision',
  boolean: 'boolean',
  string: 'text',
};

/** A column type found in the warehouse as the type of its values (columns made elsewhere too). */
function columnTypeOf(dataType: string): ColumnType {
  if (dataType.startsWith('timestamp') || dataType === 'date') return 'timestamp';
  if (['bigint', 'integer', 'smallint'].includes(dataType)) return 'int';
  if (['double precision', 'real', 'numeric'].includes(dataType)) return 'float';
  if (dataType === 'boolean') return 'boolean';
  return 'string';
}

const DISCARD_COLUMNS = `table_name text NOT NULL, column_name text NOT NULL, row_id text NOT NULL,
  column_value text, received_at timestamptz, uuid_ts timestamptz NOT NULL, reason text NOT NULL,
  PRIMARY KEY (table_name, row_id, column_name)`;

export class PostgresWarehouse implements Warehouse {
  readonly #pool: pg.Pool;

  constructor(connectionString: string, logger: Logger) {
    this.#pool = new pgPool.Pool({ connectionString, max: 2 });
    // An idle connection the warehouse drops must not take the process down; the next load fails.
    this.#pool.on('error', (error) => logger.warn({ err: error }, 'warehouse connection lost'));
  }

  async load(batch: WarehouseBatch): Promise<LoadSummary> {
    return withTransaction(this.#pool, async (client) => {
      const schema = quote(batch.schema);
      // Text without an offset is a UTC time, as Segment's are.
      await client.query(`SET LOCAL TimeZone = 'UTC'`);
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('sluice-warehouse'), hashtext($1))`,
        [batch.schema],
      );
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.${quote(DISCARDS_TABLE)} (${DISCARD_COLUMNS})`,
      );
      const plan = planLoad(await describe(client, batch.schema), batch.rows, POSTGRES_DIALECT);
      await evolve(client, schema, plan);
      let rows = 0;
      for (const table of plan.tables) {
        rows +=
          table.write === 'merge'
            ? await upsert(client, schema, table)
            : await insertNew(client, schema, table, !plan.createTables.has(table.table));
      }
      await insertDiscards(client, schema, plan.discards);
      return {
        rows,
        tables: plan.tables.map((table) => table.table),
        discards: plan.discards.length,
      };
    });
  }

  /** Errors about the values of the batch (PostgreSQL's classes 22 and 23). */
  isDataError(error: unknown): boolean {
    const code = (error as { code?: unknown })?.code;
    return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

async function describe(client: pg.PoolClient, schema: string): Promise<SchemaState> {
  const { rows } = await client.query<{
    table_name: string;
    column_name: string;
    data_type: string;
  }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  const tables = new Map<string, Map<string, ColumnType>>();
  for (const row of rows) {
    let columns = tables.get(row.table_name);
    if (!columns) tables.set(row.table_name, (columns = new Map()));
    columns.set(row.column_name, columnTypeOf(row.data_type));
  }
  return tables;
}

/** One CREATE TABLE per new table, one ALTER TABLE per table that gains columns. */
async function evolve(client: pg.PoolClient, schema: string, plan: LoadPlan): Promise<void> {
  const definition = (column: string, type: ColumnType) =>
    `${quote(column)} ${TYPES[type]}${column === 'id' ? ' PRIMARY KEY' : ''}`;
  for (const [table, columns] of plan.createTables) {
    const list = [...columns].map(([column, type]) => definition(column, type)).join(', ');
    await client.query(`CREATE TABLE ${schema}.${quote(table)} (${list})`);
  }
  for (const [table, columns] of plan.addColumns) {
    const list = [...columns]
      .map(([column, type]) => `ADD COLUMN IF NOT EXISTS ${quote(column)} ${TYPES[type]}`)
      .join(', ');
    await client.query(`ALTER TABLE ${schema}.${quote(table)} ${list}`);
  }
}

/** COPYs the rows whose id the table lacks (all of them in a table this load made). */
async function insertNew(
  client: pg.PoolClient,
  schema: string,
  load: TableLoad,
  tableExisted: boolean,
): Promise<number> {
  let rows = load.rows;
  if (tableExisted) {
    const idAt = load.columns.indexOf('id');
    const { rows: found } = await client.query<{ id: string }>(
      `SELECT id FROM ${schema}.${quote(load.table)} WHERE id = ANY($1::text[])`,
      [rows.map((row) => row[idAt])],
    );
    const loaded = new Set(found.map((row) => row.id));
    if (loaded.size > 0) rows = rows.filter((row) => !loaded.has(row[idAt] as string));
  }
  await copyInto(client, `${schema}.${quote(load.table)}`, load.columns, rows);
  return rows.length;
}

/** COPY into a temporary table, then insert-or-update the target by id, keeping older values. */
async function upsert(client: pg.PoolClient, schema: string, load: TableLoad): Promise<number> {
  const target = `${schema}.${quote(load.table)}`;
  const columns = load.columns.map(quote).join(', ');
  await client.query(`CREATE TEMPORARY TABLE sluice_load (LIKE ${target}) ON COMMIT DROP`);
  await copyInto(client, 'sluice_load', load.columns, load.rows);
  const updates = load.columns
    .filter((column) => column !== 'id')
    .map((column) => `${quote(column)} = coalesce(EXCLUDED.${quote(column)}, t.${quote(column)})`);
  const result = await client.query(
    `INSERT INTO ${target} AS t (${columns}) SELECT ${columns} FROM sluice_load
     ON CONFLICT (id) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
  );
  await client.query('DROP TABLE sluice_load');
  return result.rowCount ?? load.rows.length;
}

async function copyInto(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  rows: TableLoad['rows'],
): Promise<void> {
  if (rows.length === 0) return;
  await pipeline(
    Readable.from(copyText(rows)),
    client.query(copyFrom(`COPY ${table} (${columns.map(quote).join(', ')}) FROM STDIN`)),
  );
}

/** Text handed to COPY at a time: one write per row cost more than the rest of the load. */
const COPY_CHUNK_CHARS = 256 * 1024;

/** The rows as COPY's text format (tab-separated, \N for null, backslash escapes), in chunks. */
function* copyText(rows: TableLoad['rows']): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) chunk += '\t';
      chunk += copyValue(row[i]);
    }
    chunk += '\n';
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

function copyValue(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]);
}

const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

async function insertDiscards(
  client: pg.PoolClient,
  schema: string,
  discards: readonly Discard[],
): Promise<void> {
  if (discards.length === 0) return;
  await client.query(
    `INSERT INTO ${schema}.${quote(DISCARDS_TABLE)}
       (table_name, column_name, row_id, column_value, received_at, uuid_ts, reason)
     SELECT t, c, r, v, nullif(a, '')::timestamptz, now(), why
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
       AS d(t, c, r, v, a, why)
     ON CONFLICT DO NOTHING`,
    [
      discards.map((d) => d.table),
      discards.map((d) => d.column),
      discards.map((d) => d.rowId),
      discards.map((d) => d.value),
      discards.map((d) => d.receivedAt),
      discards.map((d) => d.reason),
    ],
  );
}

/** A quoted identifier (names are snake_case ASCII already; quoting keeps reserved words safe). */
function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
