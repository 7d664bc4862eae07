/**
 * Segment maintenance for the queues whose tables are LIST-partitioned by segment (the ingest
 * queue, migrations/000001; the delivery queue, migrations/000002):
 * - rotate: start a new head segment when the head holds `maxRows` rows or is older than
 *   `maxAgeMs` and not empty, so that old rows sit in segments that can be dropped whole;
 * - drop: remove an older segment once none of its rows is still needed.
 * Both take an advisory lock per queue, so replicas never do the same work twice. Dropping whole
 * segments instead of deleting rows is what keeps the tables small: no dead tuples to vacuum.
 */
import type pg from 'pg';
import { withTransaction } from '../db/transaction';

/** A segmented queue table and what "still needed" means for its rows. */
export interface SegmentedQueue {
  /** The partitioned jobs table; segment `n` is the partition `<jobs>_<n>`. */
  readonly jobs: string;
  readonly segments: string;
  readonly sequence: string;
  readonly lock: number;
  /** Storage parameters of each segment table, e.g. `WITH (fillfactor = 80)`. */
  readonly storage: string;
  /** A query returning one boolean row, `pending`, true while `segmentTable` holds needed rows. */
  pendingQuery(segmentTable: string): string;
}

/** Ingest rows are needed until every partition's processor cursor has passed them. */
export const INGEST_QUEUE: SegmentedQueue = {
  jobs: 'ingest_jobs',
  segments: 'ingest_segments',
  sequence: 'ingest_jobs_id_seq',
  lock: 7_264_551_002,
  storage: '', // written once, never updated
  pendingQuery: (segmentTable) => `
    SELECT EXISTS (
      SELECT 1 FROM ingest_cursors c
      WHERE EXISTS (
        SELECT 1 FROM ${segmentTable} j
        WHERE j.partition = c.partition AND (j.txid, j.id) > (c.txid, c.id)
      )
    ) AS pending`,
};

/** Delivery rows are deleted once delivered or dead-lettered: a segment is done when empty. */
export const DELIVERY_QUEUE: SegmentedQueue = {
  jobs: 'delivery_jobs',
  segments: 'delivery_segments',
  sequence: 'delivery_jobs_id_seq',
  lock: 7_264_551_003,
  // Room on each page for retry updates to stay HOT (no new index entries).
  storage: 'WITH (fillfactor = 80)',
  pendingQuery: (segmentTable) => `SELECT EXISTS (SELECT 1 FROM ${segmentTable}) AS pending`,
};

/** The id the sequence hands out next (read from the sequence relation, without consuming it). */
const NEXT_ID = 'CASE WHEN is_called THEN last_value + 1 ELSE last_value END';

export interface SegmentPolicy {
  maxRows: number;
  maxAgeMs: number;
}

export const DEFAULT_SEGMENT_POLICY: SegmentPolicy = { maxRows: 500_000, maxAgeMs: 60_000 };

/** Starts a new head segment when the policy says so; returns its number, or undefined. */
export async function rotateSegment(
  pool: pg.Pool,
  queue: SegmentedQueue,
  policy: SegmentPolicy,
): Promise<number | undefined> {
  return withLockedTransaction(pool, queue.lock, async (client) => {
    const { rows } = await client.query<{ segment: number; age_ms: number; rows: number }>(`
      SELECT s.segment,
             extract(epoch FROM now() - s.created_at) * 1000 AS age_ms,
             ${NEXT_ID} - s.first_id AS rows
      FROM ${queue.segments} s, ${queue.sequence}
      ORDER BY s.segment DESC LIMIT 1`);
    const head = rows[0];
    const due = head.rows >= policy.maxRows || (head.rows > 0 && head.age_ms >= policy.maxAgeMs);
    if (!due) return undefined;
    const next = Number(head.segment) + 1;
    await client.query(`SET LOCAL lock_timeout = '2s'`);
    await client.query(
      `CREATE TABLE ${queue.jobs}_${next} PARTITION OF ${queue.jobs} FOR VALUES IN (${next}) ${queue.storage}`,
    );
    await client.query(
      `INSERT INTO ${queue.segments} (segment, first_id) SELECT $1, ${NEXT_ID} FROM ${queue.sequence}`,
      [next],
    );
    return next;
  });
}

/**
 * Drops non-head segments whose rows are no longer needed, oldest first, stopping at the first
 * that still is; returns those dropped.
 */
export async function dropFinishedSegments(
  pool: pg.Pool,
  queue: SegmentedQueue,
): Promise<number[]> {
  const { rows } = await pool.query<{ segment: number }>(
    `SELECT segment FROM ${queue.segments}
     WHERE segment < (SELECT max(segment) FROM ${queue.segments}) ORDER BY segment`,
  );
  const dropped: number[] = [];
  for (const { segment } of rows) {
    // Cheap check first; the locked re-check below is the one that counts.
    const table = `${queue.jobs}_${Number(segment)}`;
    if (await isPending(pool, queue, table)) break;
    const done = await withLockedTransaction(pool, queue.lock, async (client) => {
      await client.query(`SET LOCAL lock_timeout = '2s'`);
      // Exclusive on the parent: no insert still running into this segment, no reader in it.
      await client.query(`LOCK TABLE ${queue.jobs} IN ACCESS EXCLUSIVE MODE`);
      if (await isPending(client, queue, table)) return false;
      await client.query(`DROP TABLE ${table}`);
      await client.query(`DELETE FROM ${queue.segments} WHERE segment = $1`, [segment]);
      return true;
    });
    if (!done) break;
    dropped.push(segment);
  }
  return dropped;
}

async function isPending(
  client: pg.Pool | pg.PoolClient,
  queue: SegmentedQueue,
  table: string,
): Promise<boolean> {
  const { rows } = await client.query<{ pending: boolean }>(queue.pendingQuery(table));
  return rows[0].pending;
}

/** Runs `work` in a transaction holding the queue's advisory lock; undefined if another has it. */
async function withLockedTransaction<T>(
  pool: pg.Pool,
  lock: number,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T | undefined> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS locked',
      [lock],
    );
    return rows[0].locked ? work(client) : undefined;
  });
}
