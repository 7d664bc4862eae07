/**
 * The gateway's one write: a group of events into the head segment of the ingest queue, in a
 * single statement (so a single implicit transaction), columns passed as joined text (see
 * text-columns.ts). Deduplication of SDK retries across requests happens when the processor hands
 * events on (see ingest_message_ids); here only repeats within one write are dropped.
 */
import type pg from 'pg';
import { joinColumn, splitColumn } from './text-columns';

export interface IngestRow {
  partition: number;
  sourceId: string;
  messageId: string;
  /** ISO-8601 time the gateway received the event. */
  receivedAt: string;
  /** The normalized event as JSON text. */
  payload: string;
}

const INSERT = `
INSERT INTO ingest_jobs (segment, partition, source_id, message_id, received_at, payload)
SELECT (SELECT max(segment) FROM ingest_segments), partition, source_id, message_id, received_at, payload
FROM unnest(
  ${splitColumn(1)}::smallint[],
  ${splitColumn(2)},
  ${splitColumn(3)},
  ${splitColumn(4)}::timestamptz[],
  ${splitColumn(5)}
) WITH ORDINALITY AS t(partition, source_id, message_id, received_at, payload, ord)
ORDER BY ord`;

/** Inserts rows in the order given. */
export async function insertIngestJobs(pool: pg.Pool, rows: readonly IngestRow[]): Promise<void> {
  await pool.query(INSERT, [
    joinColumn(rows, (row) => row.partition),
    joinColumn(rows, (row) => row.sourceId),
    joinColumn(rows, (row) => row.messageId),
    joinColumn(rows, (row) => row.receivedAt),
    joinColumn(rows, (row) => row.payload),
  ]);
}

/** Drops rows whose (sourceId, messageId) already occurs earlier in the list. */
export function withoutRepeatedMessageIds(rows: IngestRow[]): IngestRow[] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = `${row.sourceId}\u0000${row.messageId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
