/** Reads what the gateway stored, in queue order. */
import type pg from 'pg';
import type { SegmentEvent } from '../../src/event';

export interface StoredJob {
  id: number;
  partition: number;
  sourceId: string;
  messageId: string;
  event: SegmentEvent;
}

export async function storedJobs(pool: pg.Pool): Promise<StoredJob[]> {
  const { rows } = await pool.query(
    'SELECT id, partition, source_id, message_id, payload FROM ingest_jobs ORDER BY txid, id',
  );
  return rows.map((row) => ({
    id: row.id,
    partition: row.partition,
    sourceId: row.source_id,
    messageId: row.message_id,
    event: JSON.parse(row.payload),
  }));
}

export async function storedEvents(pool: pg.Pool): Promise<SegmentEvent[]> {
  return (await storedJobs(pool)).map((job) => job.event);
}
