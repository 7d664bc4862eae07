/**
 * The gateway's one write: a group of events into the head segment of the ingest queue, in a
 * single statement (so a single implicit transaction).
 *
 * Columns travel as strings joined by the ASCII record separator and split by PostgreSQL's
 * string_to_array: JSON.stringify escapes every control character and messageIds are checked to
 * hold none, so the separator cannot occur inside a value, and no value is escaped twice. (A JSON
 * array would not do: PostgreSQL's JSON parser rejects \u0000 and lone surrogates, which
 * JSON.stringify emits and which are valid in an event.)
 *
 * Deduplication of SDK retries across requests happens when the processor hands events on (see
 * ingest_message_ids); here only repeats within one write are dropped.
 */
import type pg from 'pg';

const SEPARATOR = '\u001e';

export interface IngestRow {
  partition: number;
  sourceId: string;
  messageId: string;
  /** ISO-8601 time the gateway received the event. */
  receivedAt: string;
  /** The normalized event as JSON text. */
  payload: string;
}

const INPUT = `
  SELECT * FROM unnest(
    string_to_array($1, ',')::smallint[],
    string_to_array($2, E'\\x1e'),
    string_to_array($3, E'\\x1e'),
    string_to_array($4, ',')::timestamptz[],
    string_to_array($5, E'\\x1e')
  ) WITH ORDINALITY AS t(partition, source_id, message_id, received_at, payload, ord)`;

const INSERT = `
INSERT INTO ingest_jobs (segment, partition, source_id, message_id, received_at, payload)
SELECT (SELECT max(segment) FROM ingest_segments), partition, source_id, message_id, received_at, payload
FROM (${INPUT}) input
ORDER BY ord`;

/** Inserts rows in the order given. */
export async function insertIngestJobs(pool: pg.Pool, rows: readonly IngestRow[]): Promise<void> {
  const column = (value: (row: IngestRow) => string | number, separator = SEPARATOR) =>
    rows.map(value).join(separator);
  await pool.query(INSERT, [
    column((row) => row.partition, ','),
    column((row) => row.sourceId),
    column((row) => row.messageId),
    column((row) => row.receivedAt, ','),
    column((row) => row.payload),
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
