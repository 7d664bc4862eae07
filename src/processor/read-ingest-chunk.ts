/**
 * Reads the next rows of the given partitions in queue order. Only rows whose transaction id is
 * below the oldest transaction still running (the horizon) are read: every writer that could
 * still commit a row ordered before them has finished, so the order read is final and a cursor
 * never skips a row committed late. A plain read, no locks: the hand-off re-checks the cursors
 * under lock.
 *
 * The horizon is the oldest transaction running when the read's snapshot was taken, leaving out
 * those that pg_stat_activity shows belong to other databases: a long transaction elsewhere on a
 * shared cluster must not stall the pipeline. Only transactions known to be foreign are left
 * out; one that finished since the snapshot stays in, which only makes the horizon more careful.
 * (Without the privilege to see other roles' sessions, their transactions simply count.)
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

// pg_stat_activity has 32-bit xids: widen each to the 64-bit one just below the snapshot's xmax.
const READ_CHUNK = `
WITH snapshot AS (
  SELECT pg_current_snapshot() AS s, pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax
), foreign_xids AS (
  SELECT xmax - ((xmax % 4294967296) - a.backend_xid::text::bigint + 4294967296) % 4294967296 AS xid
  FROM snapshot, pg_stat_activity a
  WHERE a.backend_xid IS NOT NULL AND a.datname IS DISTINCT FROM current_database()
), horizon AS (
  SELECT coalesce(
    (SELECT min(x) FROM snapshot, pg_snapshot_xip(s) AS x
     WHERE x::text::bigint NOT IN (SELECT xid FROM foreign_xids)),
    (SELECT pg_snapshot_xmax(s) FROM snapshot)) AS txid
)
SELECT c.partition, c.txid AS cursor_txid, c.id AS cursor_id,
       j.txid, j.id, j.source_id, j.message_id, j.received_at, j.payload
FROM horizon h, ingest_cursors c
CROSS JOIN LATERAL (
  SELECT txid, id, source_id, message_id, received_at, payload
  FROM ingest_jobs j
  WHERE j.partition = c.partition AND (j.txid, j.id) > (c.txid, c.id) AND j.txid < h.txid
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

/**
 * The chunk's first and second halves, each with the cursors it starts from, for handing them off
 * one after the other: the second half's cursor in a partition the halves share is the first
 * half's last record there.
 */
export function splitChunk(chunk: IngestChunk): [IngestChunk, IngestChunk] {
  const middle = Math.ceil(chunk.records.length / 2);
  return [sliceChunk(chunk, 0, middle), sliceChunk(chunk, middle, chunk.records.length)];
}

/** Records [from, to) of the chunk; they are in partition order, then queue order. */
function sliceChunk(chunk: IngestChunk, from: number, to: number): IngestChunk {
  const startCursors = new Map<number, Cursor>();
  for (let i = from; i < to; i++) {
    const { partition } = chunk.records[i];
    if (startCursors.has(partition)) continue;
    const before = i > from ? undefined : chunk.records[i - 1];
    startCursors.set(
      partition,
      before?.partition === partition
        ? { txid: before.txid, id: before.id }
        : chunk.startCursors.get(partition)!,
    );
  }
  return { records: chunk.records.slice(from, to), startCursors };
}
