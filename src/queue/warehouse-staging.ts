/**
 * The warehouse staging table (migrations/000003) from the loader's side: reading a
 * destination's staged rows in order, and — once the warehouse committed them — removing them in
 * the transaction that records the load (and moves the rows the warehouse refused to the failed
 * events). A crash between the warehouse's commit and this one leaves the rows staged, and the
 * next load writes them again, which the warehouse's upsert by `id` makes harmless.
 */
import type pg from 'pg';
import { withTransaction } from '../db/transaction';
import { insertFailedEvents, type FailedEventRow } from '../processor/write-output';

export interface StagedRow {
  id: number;
  sourceId: string;
  messageId: string;
  userKey: string;
  receivedAt: Date;
  /** The event as JSON text, after the connection's transformations. */
  payload: string;
}

/** The destination's oldest staged rows after `afterId`, in the order they were staged. */
export async function readStaged(
  pool: pg.Pool,
  destinationId: string,
  limit: number,
  afterId = 0,
): Promise<StagedRow[]> {
  const { rows } = await pool.query<{
    id: string;
    source_id: string;
    message_id: string;
    user_key: string;
    received_at: Date;
    payload: string;
  }>(
    `SELECT id, source_id, message_id, user_key, received_at, payload FROM warehouse_staging
     WHERE destination_id = $1 AND id > $3 ORDER BY id LIMIT $2`,
    [destinationId, limit, afterId],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    sourceId: row.source_id,
    messageId: row.message_id,
    userKey: row.user_key,
    receivedAt: row.received_at,
    payload: row.payload,
  }));
}

export interface LoadRecord {
  /** Staged rows the warehouse now holds. */
  loaded: readonly number[];
  /** Staged rows the warehouse refused, as failed events (they leave staging too). */
  refused: ReadonlyArray<{ id: number; failure: FailedEventRow }>;
  rows: number;
  tables: readonly string[];
}

/** Removes what a load took from staging and records the load, in one transaction. */
export async function recordLoad(
  pool: pg.Pool,
  destinationId: string,
  record: LoadRecord,
): Promise<void> {
  await withTransaction(pool, async (client) => {
    const ids = [...record.loaded, ...record.refused.map((entry) => entry.id)];
    // Exactly the rows read: a row staged since, with a lower id, was not part of the load.
    await client.query(
      'DELETE FROM warehouse_staging WHERE destination_id = $1 AND id = ANY($2::bigint[])',
      [destinationId, ids],
    );
    await insertFailedEvents(
      client,
      record.refused.map((entry) => entry.failure),
    );
    await client.query(
      `INSERT INTO warehouse_loads (destination_id, last_load_at, last_load_rows, last_load_tables)
       VALUES ($1, now(), $2, $3)
       ON CONFLICT (destination_id) DO UPDATE SET last_load_at = now(),
         last_load_rows = EXCLUDED.last_load_rows, last_load_tables = EXCLUDED.last_load_tables,
         failing_since = NULL`,
      [destinationId, record.rows, record.tables],
    );
  });
}

/** Records that a load failed (the rows stay staged). */
export async function recordLoadFailure(
  pool: pg.Pool,
  destinationId: string,
  error: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO warehouse_loads (destination_id, last_error, last_error_at, failing_since)
     VALUES ($1, $2, now(), now())
     ON CONFLICT (destination_id) DO UPDATE SET last_error = EXCLUDED.last_error,
       last_error_at = now(), failing_since = coalesce(warehouse_loads.failing_since, now())`,
    [destinationId, error],
  );
}

export interface StagedBacklog {
  rows: number;
  oldest: Date | null;
}

/** How much of a destination's staging waits, and since when. */
export async function stagedBacklog(pool: pg.Pool, destinationId: string): Promise<StagedBacklog> {
  const { rows } = await pool.query<{ rows: number; oldest: Date | null }>(
    `SELECT count(*)::int AS rows, min(received_at) AS oldest FROM warehouse_staging
     WHERE destination_id = $1`,
    [destinationId],
  );
  return rows[0];
}

/** Every warehouse destination's backlog and last load, for the admin API. */
export async function warehouseStatus(pool: pg.Pool) {
  const { rows } = await pool.query(
    `SELECT d.destination_id, coalesce(s.rows, 0)::int AS staged, s.oldest,
            l.last_load_at, l.last_load_rows, l.last_load_tables, l.last_error, l.last_error_at,
            l.failing_since
     FROM (SELECT destination_id FROM warehouse_loads
           UNION SELECT DISTINCT destination_id FROM warehouse_staging) d
     LEFT JOIN (SELECT destination_id, count(*) AS rows, min(received_at) AS oldest
                FROM warehouse_staging GROUP BY destination_id) s USING (destination_id)
     LEFT JOIN warehouse_loads l USING (destination_id)
     ORDER BY d.destination_id`,
  );
  return rows.map((row) => ({
    destinationId: row.destination_id as string,
    staged: row.staged as number,
    oldestStaged: row.oldest as Date | null,
    lastLoad: row.last_load_at
      ? { at: row.last_load_at, rows: Number(row.last_load_rows), tables: row.last_load_tables }
      : null,
    lastError: row.last_error ? { at: row.last_error_at, message: row.last_error } : null,
    failingSince: row.failing_since as Date | null,
  }));
}
