/**
 * Segment maintenance for the ingest queue (see migrations/000001_ingest_queue.sql):
 * - rotate: start a new head segment when the head holds `maxRows` rows or is older than
 *   `maxAgeMs` and not empty, so that old rows sit in segments that can be dropped whole;
 * - drop: remove an older segment once every partition's cursor is past all of its rows.
 * Both take an advisory lock, so replicas never do the same work twice.
 */
import type pg from 'pg';

const SEGMENT_LOCK = 7_264_551_002;
/** The id the sequence hands out next (read from the sequence relation, without consuming it). */
const NEXT_ID = 'CASE WHEN is_called THEN last_value + 1 ELSE last_value END';

export interface SegmentPolicy {
  maxRows: number;
  maxAgeMs: number;
}

export const DEFAULT_SEGMENT_POLICY: SegmentPolicy = { maxRows: 500_000, maxAgeMs: 60_000 };

/** Starts a new head segment when the policy says so; returns its number, or undefined. */
export async function rotateIngestSegment(
  pool: pg.Pool,
  policy: SegmentPolicy,
): Promise<number | undefined> {
  return withLockedTransaction(pool, async (client) => {
    const { rows } = await client.query<{ segment: number; age_ms: number; rows: number }>(`
      SELECT s.segment,
             extract(epoch FROM now() - s.created_at) * 1000 AS age_ms,
             ${NEXT_ID} - s.first_id AS rows
      FROM ingest_segments s, ingest_jobs_id_seq
      ORDER BY s.segment DESC LIMIT 1`);
    const head = rows[0];
    const due = head.rows >= policy.maxRows || (head.rows > 0 && head.age_ms >= policy.maxAgeMs);
    if (!due) return undefined;
    const next = Number(head.segment) + 1;
    await client.query(`SET LOCAL lock_timeout = '2s'`);
    await client.query(
      `CREATE TABLE ingest_jobs_${next} PARTITION OF ingest_jobs FOR VALUES IN (${next})`,
    );
    await client.query(
      `INSERT INTO ingest_segments (segment, first_id) SELECT $1, ${NEXT_ID} FROM ingest_jobs_id_seq`,
      [next],
    );
    return next;
  });
}

/** Drops every non-head segment whose rows all lie behind the cursors; returns those dropped. */
export async function dropConsumedIngestSegments(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ segment: number }>(
    `SELECT segment FROM ingest_segments
     WHERE segment < (SELECT max(segment) FROM ingest_segments) ORDER BY segment`,
  );
  const dropped: number[] = [];
  for (const { segment } of rows) {
    // Cheap check first; the locked re-check below is the one that counts.
    if (!(await isConsumed(pool, segment))) break;
    const done = await withLockedTransaction(pool, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '2s'`);
      // Exclusive on the parent: no insert still running into this segment, no reader in it.
      await client.query('LOCK TABLE ingest_jobs IN ACCESS EXCLUSIVE MODE');
      if (!(await isConsumed(client, segment))) return false;
      await client.query(`DROP TABLE ingest_jobs_${Number(segment)}`);
      await client.query('DELETE FROM ingest_segments WHERE segment = $1', [segment]);
      return true;
    });
    if (!done) break;
    dropped.push(segment);
  }
  return dropped;
}

async function isConsumed(client: pg.Pool | pg.PoolClient, segment: number): Promise<boolean> {
  const { rows } = await client.query<{ pending: boolean }>(`
    SELECT EXISTS (
      SELECT 1 FROM ingest_cursors c
      WHERE EXISTS (
        SELECT 1 FROM ingest_jobs_${Number(segment)} j
        WHERE j.partition = c.partition AND (j.txid, j.id) > (c.txid, c.id)
      )
    ) AS pending`);
  return !rows[0].pending;
}

/** Deletes remembered messageIds older than the window, in bounded batches. */
export async function expireMessageIds(pool: pg.Pool, windowHours: number): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await pool.query(
      `DELETE FROM ingest_message_ids WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM ingest_message_ids
         WHERE received_at < now() - make_interval(secs => $1) LIMIT 10000))`,
      [windowHours * 3600],
    );
    total += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < 10000) return total;
  }
}

/** Runs `work` in a transaction holding the segment advisory lock; undefined if another has it. */
async function withLockedTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS locked',
      [SEGMENT_LOCK],
    );
    if (!rows[0].locked) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
