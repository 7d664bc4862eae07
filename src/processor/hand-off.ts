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
import { withTransaction } from '../db/transaction';
import type { Cursor } from './read-ingest-chunk';
import {
  insertDeliveries,
  insertFailedEvents,
  type DeliveryRow,
  type FailedEventRow,
} from './write-output';

export interface HandOffInput {
  startCursors: ReadonlyMap<number, Cursor>;
  endCursors: ReadonlyMap<number, Cursor>;
  /** Every event of the chunk (after in-chunk repeats were dropped), when deduplicating. */
  eventKeys?: ReadonlyArray<{ key: string; receivedAt: string }>;
  deliveries: readonly DeliveryRow[];
  failures: readonly FailedEventRow[];
}

export type HandOffResult =
  | {
      committed: true;
      /** Events dropped as handed on before (SDK retries). */
      duplicates: number;
      /** Failed events written, those of duplicates left out. */
      failures: number;
    }
  | { committed: false; reason: 'cursor moved' };

export async function handOff(pool: pg.Pool, input: HandOffInput): Promise<HandOffResult> {
  const partitions = [...input.startCursors.keys()].sort((a, b) => a - b);
  return withTransaction(pool, async (client): Promise<HandOffResult> => {
    const { rows: current } = await client.query<{ partition: number; txid: string; id: number }>(
      `SELECT partition, txid, id FROM ingest_cursors
       WHERE partition = ANY($1::smallint[]) ORDER BY partition FOR UPDATE`,
      [partitions],
    );
    for (const row of current) {
      const start = input.startCursors.get(row.partition)!;
      // Nothing written yet: the commit only releases the cursor locks.
      if (row.txid !== start.txid || Number(row.id) !== Number(start.id)) {
        return { committed: false, reason: 'cursor moved' };
      }
    }
    const duplicateKeys = input.eventKeys
      ? await rememberKeys(client, input.eventKeys)
      : new Set<string>();
    const deliveries = input.deliveries.filter((row) => !duplicateKeys.has(row.eventKey));
    const failures = input.failures.filter((row) => !duplicateKeys.has(row.eventKey));
    await insertDeliveries(client, deliveries);
    await insertFailedEvents(client, failures);
    const ends = [...input.endCursors.entries()];
    await client.query(
      `UPDATE ingest_cursors c SET txid = v.txid::xid8, id = v.id
       FROM unnest($1::smallint[], $2::text[], $3::bigint[]) AS v(partition, txid, id)
       WHERE c.partition = v.partition`,
      [
        ends.map(([partition]) => partition),
        ends.map(([, c]) => c.txid),
        ends.map(([, c]) => c.id),
      ],
    );
    return { committed: true, duplicates: duplicateKeys.size, failures: failures.length };
  });
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
