/**
 * Reads the next rows of the given partitions in queue order. Only rows whose transaction id is
 * below the oldest transaction still running (pg_snapshot_xmin) are read: every writer that
 * could still commit a row ordered before them has finished, so the order read is final and a
 * cursor never skips a row committed late. A plain read, no locks: the hand-off re-checks the
 * cursors under lock.
 */
import type pg from 'pg';

export interface IngestRecord {
  partition: number;
  txid: string;
  id: number;
  sourceId: string;
  messageId: string;
  receivedAt: Date;
  payload: string;
}

export interface Cursor {
  txid: string;
  id: number;
}

export interface IngestChunk {
  records: IngestRecord[];
  /** Each read partition's cursor before this chunk, for the hand-off's compare. */
  startCursors: Map<number, Cursor>;
}

const READ_CHUNK = `
SELECT c.partition, c.txid AS cursor_txid, c.id AS cursor_id,
       j.txid, j.id, j.source_id, j.message_id, j.received_at, j.payload
FROM ingest_cursors c
CROSS JOIN LATERAL (
  SELECT txid, id, source_id, message_id, received_at, payload
  FROM ingest_jobs j
  WHERE j.partition = c.partition AND (j.txid, j.id) > (c.txid, c.id)
    AND j.txid < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY j.txid, j.id
  LIMIT $2
) j
WHERE c.partition = ANY($1::smallint[])
ORDER BY c.partition, j.txid, j.id`;

export async function readIngestChunk(
  pool: pg.Pool,
  partitions: readonly number[],
  perPartition: number,
): Promise<IngestChunk> {
  const { rows } = await pool.query(READ_CHUNK, [partitions, perPartition]);
  const startCursors = new Map<number, Cursor>();
  const records = rows.map((row): IngestRecord => {
    if (!startCursors.has(row.partition)) {
      startCursors.set(row.partition, { txid: row.cursor_txid, id: row.cursor_id });
    }
    return {
      partition: row.partition,
      txid: row.txid,
      id: row.id,
      sourceId: row.source_id,
      messageId: row.message_id,
      receivedAt: row.received_at,
      payload: row.payload,
    };
  });
  return { records, startCursors };
}
