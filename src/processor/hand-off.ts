/**
 * The processor's hand-off: one transaction writes a chunk's delivery rows and failed events,
 * records the chunk's messageIds (dropping SDK retries already handed on), and moves the
 * partitions' cursors past the chunk. A crash before COMMIT leaves the cursors where they were,
 * so the chunk is processed again; after COMMIT it is never processed again.
 *
 * The cursor rows are locked and compared with the cursors the chunk was read from: if another
 * processor moved one meanwhile (a lease lost while transforming), nothing is written and the
 * chunk is dropped, so no event is handed on twice.
 */
import type pg from 'pg';
import type { Cursor } from './read-ingest-chunk';
import { joinColumn, splitColumn } from '../queue/text-columns';

export interface DeliveryRow {
  /** The dedup key of the ingest event it came from. */
  eventKey: string;
  destinationId: string;
  userKey: string;
  sourceId: string;
  messageId: string;
  receivedAt: string;
  /** The event to deliver, as JSON text. */
  payload: string;
}

export interface FailedEventRow {
  eventKey: string;
  sourceId: string;
  destinationId: string;
  transformationId: string;
  messageId: string;
  userKey: string;
  receivedAt: string;
  error: string;
  stack?: string;
  /** The event as it entered the connection, as JSON text. */
  event: string;
}

export interface HandOffInput {
  startCursors: ReadonlyMap<number, Cursor>;
  endCursors: ReadonlyMap<number, Cursor>;
  /** Every event of the chunk (after in-chunk repeats were dropped), when deduplicating. */
  eventKeys?: ReadonlyArray<{ key: string; receivedAt: string }>;
  deliveries: readonly DeliveryRow[];
  failures: readonly FailedEventRow[];
}

export type HandOffResult =
  | { committed: true; duplicateKeys: ReadonlySet<string> }
  | { committed: false; reason: 'cursor moved' };

const INSERT_DELIVERIES = `
INSERT INTO delivery_jobs (segment, destination_id, user_key, source_id, message_id, received_at, payload)
SELECT (SELECT max(segment) FROM delivery_segments), destination_id, user_key, source_id, message_id, received_at, payload
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], ${splitColumn(6)})
  WITH ORDINALITY AS t(destination_id, user_key, source_id, message_id, received_at, payload, ord)
ORDER BY ord`;

const INSERT_FAILURES = `
INSERT INTO failed_events
  (source_id, destination_id, transformation_id, message_id, user_key, received_at, error, stack, event)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                     $7::text[], $8::text[], ${splitColumn(9)})`;

export async function handOff(pool: pg.Pool, input: HandOffInput): Promise<HandOffResult> {
  const partitions = [...input.startCursors.keys()].sort((a, b) => a - b);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: current } = await client.query<{ partition: number; txid: string; id: number }>(
      `SELECT partition, txid, id FROM ingest_cursors
       WHERE partition = ANY($1::smallint[]) ORDER BY partition FOR UPDATE`,
      [partitions],
    );
    for (const row of current) {
      const start = input.startCursors.get(row.partition)!;
      if (row.txid !== start.txid || Number(row.id) !== Number(start.id)) {
        await client.query('ROLLBACK');
        return { committed: false, reason: 'cursor moved' };
      }
    }
    const duplicateKeys = input.eventKeys ? await rememberKeys(client, input.eventKeys) : new Set<string>();
    const deliveries = input.deliveries.filter((row) => !duplicateKeys.has(row.eventKey));
    const failures = input.failures.filter((row) => !duplicateKeys.has(row.eventKey));
    if (deliveries.length > 0) {
      await client.query(INSERT_DELIVERIES, [
        deliveries.map((row) => row.destinationId),
        deliveries.map((row) => row.userKey),
        deliveries.map((row) => row.sourceId),
        deliveries.map((row) => row.messageId),
        deliveries.map((row) => row.receivedAt),
        joinColumn(deliveries, (row) => row.payload),
      ]);
    }
    if (failures.length > 0) {
      await client.query(INSERT_FAILURES, [
        failures.map((row) => row.sourceId),
        failures.map((row) => row.destinationId),
        failures.map((row) => row.transformationId),
        failures.map((row) => row.messageId),
        failures.map((row) => row.userKey),
        failures.map((row) => row.receivedAt),
        failures.map((row) => row.error),
        failures.map((row) => row.stack ?? null),
        joinColumn(failures, (row) => row.event),
      ]);
    }
    const ends = [...input.endCursors.entries()];
    await client.query(
      `UPDATE ingest_cursors c SET txid = v.txid::xid8, id = v.id
       FROM unnest($1::smallint[], $2::text[], $3::bigint[]) AS v(partition, txid, id)
       WHERE c.partition = v.partition`,
      [ends.map(([partition]) => partition), ends.map(([, c]) => c.txid), ends.map(([, c]) => c.id)],
    );
    await client.query('COMMIT');
    return { committed: true, duplicateKeys };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Inserts the keys; returns those already present (events handed on before: SDK retries). */
async function rememberKeys(
  client: pg.PoolClient,
  keys: ReadonlyArray<{ key: string; receivedAt: string }>,
): Promise<Set<string>> {
  const { rows } = await client.query<{ key: string }>(
    `INSERT INTO ingest_message_ids (key, received_at)
     SELECT * FROM unnest($1::uuid[], $2::timestamptz[])
     ON CONFLICT DO NOTHING RETURNING key`,
    [keys.map((k) => k.key), keys.map((k) => k.receivedAt)],
  );
  const fresh = new Set(rows.map((row) => row.key));
  return new Set(keys.filter((k) => !fresh.has(k.key)).map((k) => k.key));
}
