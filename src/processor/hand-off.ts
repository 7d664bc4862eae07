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
import { isTransientDatabaseError } from '../db/transient-errors';
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
  return handOffWith(pool, input, async (client, duplicateKeys) => {
    const deliveries = input.deliveries.filter((row) => !duplicateKeys.has(row.eventKey));
    const failures = input.failures.filter((row) => !duplicateKeys.has(row.eventKey));
    await insertDeliveries(client, deliveries);
    await insertFailedEvents(client, failures);
    return failures.length;
  });
}

/** One connection's output for the event handed off alone (see handOffIsolated). */
export interface IsolatedOutput {
  deliveries: readonly DeliveryRow[];
  failures: readonly FailedEventRow[];
  /** The failed event recorded instead when the database refuses this output. */
  asFailure(error: unknown): FailedEventRow;
}

/**
 * The hand-off of one event that failed its chunk (see processor.ts): each connection's output is
 * written under a savepoint, and output the database refuses for a reason other than a lost
 * database becomes a failed event of that connection instead, so the event is recorded and its
 * partition moves on. Takes a chunk of that one event.
 */
export async function handOffIsolated(
  pool: pg.Pool,
  input: Omit<HandOffInput, 'deliveries' | 'failures'> & { outputs: readonly IsolatedOutput[] },
): Promise<HandOffResult> {
  return handOffWith(pool, input, async (client, duplicateKeys) => {
    if (duplicateKeys.size > 0) return 0;
    let failures = 0;
    for (const output of input.outputs) {
      await client.query('SAVEPOINT connection_output');
      try {
        await insertDeliveries(client, output.deliveries);
        await insertFailedEvents(client, output.failures);
        failures += output.failures.length;
      } catch (error) {
        if (isTransientDatabaseError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT connection_output');
        await insertFailedEvents(client, [output.asFailure(error)]);
        failures += 1;
      }
    }
    return failures;
  });
}

/**
 * The transaction both hand-offs share: checks the cursors under lock, remembers the chunk's
 * messageIds, lets `write` write the output (it returns the failed events written), and moves the
 * cursors.
 */
async function handOffWith(
  pool: pg.Pool,
  input: Pick<HandOffInput, 'startCursors' | 'endCursors' | 'eventKeys'>,
  write: (client: pg.PoolClient, duplicateKeys: ReadonlySet<string>) => Promise<number>,
): Promise<HandOffResult> {
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
    const failures = await write(client, duplicateKeys);
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
    return { committed: true, duplicates: duplicateKeys.size, failures };
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
