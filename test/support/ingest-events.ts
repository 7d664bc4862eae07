/** Writes events into the ingest queue exactly as the gateway does (normalized, partitioned). */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { userKeyOf, type SegmentEvent } from '../../src/event';
import { insertIngestJobs } from '../../src/queue/insert-ingest-jobs';
import { partitionOf } from '../../src/queue/partition';

export type TestEvent = Partial<SegmentEvent> & { type?: SegmentEvent['type'] };

export async function ingestEvents(
  pool: pg.Pool,
  sourceId: string,
  events: TestEvent[],
): Promise<SegmentEvent[]> {
  const now = new Date().toISOString();
  const full = events.map(
    (event) =>
      ({
        type: 'track',
        messageId: randomUUID(),
        timestamp: now,
        originalTimestamp: now,
        receivedAt: now,
        context: {},
        ...event,
      }) as SegmentEvent,
  );
  await insertIngestJobs(
    pool,
    full.map((event) => ({
      partition: partitionOf(userKeyOf(event)),
      sourceId,
      messageId: event.messageId,
      receivedAt: now,
      payload: JSON.stringify(event),
    })),
  );
  return full;
}

/** Rows queued for tool destinations, in the order written. */
export function deliveryRows(pool: pg.Pool, destinationId?: string) {
  return outputRows(pool, 'delivery_jobs', destinationId);
}

/** Rows staged for warehouse destinations, in the order written. */
export function stagedRows(pool: pg.Pool, destinationId?: string) {
  return outputRows(pool, 'warehouse_staging', destinationId);
}

async function outputRows(
  pool: pg.Pool,
  table: 'delivery_jobs' | 'warehouse_staging',
  destinationId?: string,
) {
  const { rows } = await pool.query(
    `SELECT id, destination_id, user_key, source_id, message_id, payload FROM ${table}
     WHERE $1::text IS NULL OR destination_id = $1 ORDER BY id`,
    [destinationId ?? null],
  );
  return rows.map((row) => ({ ...row, event: JSON.parse(row.payload) as SegmentEvent }));
}
