/**
 * Claims due deliveries of one destination for a router worker, keeping each user's events in
 * order: a row is claimable only as part of the contiguous prefix of its (destination, user_key)
 * that starts at the key's oldest row, so no event is sent while an older one of the same user is
 * waiting for a retry or in flight elsewhere.
 *
 * 1. Lock up to `scan` due rows (next_attempt_at and locked_until passed) in id order, SKIP
 *    LOCKED so workers never wait for each other.
 * 2. Look up the first rows of each candidate key (the key_order index, cheap per key).
 * 3. Claim a key's candidates from its oldest row onwards while they are contiguous; rows behind a
 *    head that is waiting for a retry are pushed to the head's retry time, so later claims skip
 *    them by the index instead of re-examining them.
 * A claim is a lease (locked_until); a worker that dies loses it when the lease ends, and the rows
 * are delivered again (at least once).
 */
import type pg from 'pg';

export interface ClaimedDelivery {
  segment: number;
  id: number;
  userKey: string;
  sourceId: string;
  messageId: string;
  receivedAt: Date;
  payload: string;
  attempts: number;
  firstAttemptAt: Date | null;
}

export interface ClaimOptions {
  /** Most rows claimed. */
  limit: number;
  /** Most rows claimed per user key (1 unless the destination batches). */
  perKey: number;
  leaseMs: number;
}

const LOCK_CANDIDATES = `
SELECT segment, id, user_key FROM delivery_jobs
WHERE destination_id = $1 AND next_attempt_at <= now() AND locked_until <= now()
ORDER BY id
LIMIT $2
FOR UPDATE SKIP LOCKED`;

const FIRST_ROWS_OF_KEYS = `
SELECT k.user_key, r.id, r.next_attempt_at > now() AS waiting, r.next_attempt_at
FROM unnest($2::text[]) AS k(user_key)
CROSS JOIN LATERAL (
  SELECT id, next_attempt_at FROM delivery_jobs
  WHERE destination_id = $1 AND user_key = k.user_key
  ORDER BY id LIMIT $3
) r
ORDER BY k.user_key, r.id`;

const TAKE = `
UPDATE delivery_jobs j
SET locked_until = now() + $3::interval, first_attempt_at = coalesce(first_attempt_at, now())
FROM unnest($1::bigint[], $2::bigint[]) AS c(segment, id)
WHERE j.segment = c.segment AND j.id = c.id
RETURNING j.segment, j.id, j.user_key, j.source_id, j.message_id, j.received_at, j.payload,
          j.attempts, j.first_attempt_at`;

const PUSH_BACK = `
UPDATE delivery_jobs j SET next_attempt_at = c.next_attempt_at
FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS c(segment, id, next_attempt_at)
WHERE j.segment = c.segment AND j.id = c.id`;

/** Claims rows for `destinationId`; returns them grouped per user key, each group in order. */
export async function claimDeliveries(
  pool: pg.Pool,
  destinationId: string,
  options: ClaimOptions,
): Promise<ClaimedDelivery[][]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: candidates } = await client.query<{
      segment: number;
      id: number;
      user_key: string;
    }>(LOCK_CANDIDATES, [destinationId, options.limit * 2]);
    if (candidates.length === 0) {
      await client.query('COMMIT');
      return [];
    }
    const candidateIds = new Map(candidates.map((row) => [row.id, row]));
    const keys = [...new Set(candidates.map((row) => row.user_key))];
    const { rows: firstRows } = await client.query<{
      user_key: string;
      id: number;
      waiting: boolean;
      next_attempt_at: Date;
    }>(FIRST_ROWS_OF_KEYS, [destinationId, keys, options.perKey]);

    const take: Array<{ segment: number; id: number }> = [];
    const pushBack: Array<{ segment: number; id: number; until: Date }> = [];
    const byKey = groupBy(firstRows, (row) => row.user_key);
    for (const key of keys) {
      const prefix = byKey.get(key) ?? [];
      const head = prefix[0];
      if (head?.waiting) {
        // The key waits for its head's retry: so do its other candidates.
        for (const row of candidates) {
          if (row.user_key === key && row.id !== head.id)
            pushBack.push({ ...row, until: head.next_attempt_at });
        }
        continue;
      }
      for (const row of prefix) {
        const candidate = candidateIds.get(row.id);
        if (!candidate || take.length >= options.limit) break; // in flight elsewhere, or full
        take.push(candidate);
      }
    }
    if (pushBack.length > 0) {
      await client.query(PUSH_BACK, [
        pushBack.map((row) => row.segment),
        pushBack.map((row) => row.id),
        pushBack.map((row) => row.until),
      ]);
    }
    let claimed: ClaimedDelivery[] = [];
    if (take.length > 0) {
      const { rows } = await client.query(TAKE, [
        take.map((row) => row.segment),
        take.map((row) => row.id),
        `${options.leaseMs} milliseconds`,
      ]);
      claimed = rows.map((row) => ({
        segment: Number(row.segment),
        id: Number(row.id),
        userKey: row.user_key,
        sourceId: row.source_id,
        messageId: row.message_id,
        receivedAt: row.received_at,
        payload: row.payload,
        attempts: row.attempts,
        firstAttemptAt: row.first_attempt_at,
      }));
    }
    await client.query('COMMIT');
    const groups = groupBy(
      claimed.sort((a, b) => a.id - b.id),
      (row) => row.userKey,
    );
    return [...groups.values()];
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list) list.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
