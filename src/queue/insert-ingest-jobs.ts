/**
 * The gateway's one write: a group of events into the head segment of the ingest queue, with
 * messageId deduplication, in a single statement (so a single implicit transaction).
 *
 * The rows travel as one JSON array whose `e` members are the events' JSON text, spliced in
 * without re-escaping; PostgreSQL splits the array in C and `->` on the json type returns each
 * event's original text. The messageId insert and the job insert share the statement: a
 * messageId already seen for the source (an SDK retry) yields no job, and concurrent writers of
 * the same messageId serialize on its primary key.
 */
import type pg from 'pg';

export interface IngestRow {
  partition: number;
  sourceId: string;
  messageId: string;
  /** ISO-8601 time the gateway received the event. */
  receivedAt: string;
  /** The normalized event as JSON text. */
  payload: string;
}

const INSERT_WITH_DEDUP = `
WITH input AS (
  SELECT ord, (row->>'p')::smallint AS partition, row->>'s' AS source_id, row->>'m' AS message_id,
         (row->>'r')::timestamptz AS received_at, (row->'e')::text AS payload
  FROM json_array_elements($1::json) WITH ORDINALITY AS t(row, ord)
), fresh AS (
  INSERT INTO ingest_message_ids (source_id, message_id, received_at)
  SELECT source_id, message_id, received_at FROM input
  ON CONFLICT DO NOTHING
  RETURNING source_id, message_id
)
INSERT INTO ingest_jobs (segment, partition, source_id, message_id, received_at, payload)
SELECT (SELECT max(segment) FROM ingest_segments), i.partition, i.source_id, i.message_id, i.received_at, i.payload
FROM input i JOIN fresh f USING (source_id, message_id)
ORDER BY i.ord`;

const INSERT_WITHOUT_DEDUP = `
INSERT INTO ingest_jobs (segment, partition, source_id, message_id, received_at, payload)
SELECT (SELECT max(segment) FROM ingest_segments), (row->>'p')::smallint, row->>'s', row->>'m',
       (row->>'r')::timestamptz, (row->'e')::text
FROM json_array_elements($1::json) WITH ORDINALITY AS t(row, ord)
ORDER BY ord`;

/**
 * Inserts rows in order; returns how many were new (not duplicates). Rows must not repeat a
 * (sourceId, messageId) pair: callers drop in-group repeats first.
 */
export async function insertIngestJobs(
  pool: pg.Pool,
  rows: readonly IngestRow[],
  options: { dedup: boolean },
): Promise<number> {
  const parts = rows.map(
    (row) =>
      `{"p":${row.partition},"s":${JSON.stringify(row.sourceId)},"m":${JSON.stringify(row.messageId)},"r":"${row.receivedAt}","e":${row.payload}}`,
  );
  const result = await pool.query(options.dedup ? INSERT_WITH_DEDUP : INSERT_WITHOUT_DEDUP, [
    `[${parts.join(',')}]`,
  ]);
  return result.rowCount ?? 0;
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
