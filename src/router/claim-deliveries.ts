/**
 * Claims due deliveries of one destination for a router worker, keeping each user's events in
 * order: a row is claimable only as part of the contiguous prefix of its (destination, user_key)
 * that starts at the key's oldest row, so no event is sent while an older one of the same user is
 * waiting for a retry or in flight elsewhere.
 *
 * 1. Lock up to `limit` due rows (next_attempt_at and locked_until passed) in id order, SKIP
 *    LOCKED so workers never wait for each other, noting for each whether it is its key's oldest
 *    row (one probe of the key_order index).
 * 2. Take every key whose oldest row is among them; for keys with several candidates (and a
 *    destination that sends several per key), look up the key's first rows and take the
 *    candidates that continue the prefix.
 * 3. Rows behind an older row that waits for a retry are pushed to the time it is due, so later
 *    claims skip them by the index instead of re-examining them every round — a dead destination
 *    costs almost nothing to poll. (Rows behind one in flight are left: it is done in a moment.)
 * A claim is a lease (locked_until); a worker that dies loses it when the lease ends, and the rows
 * are delivered again (at least once).
 */
import type pg from 'pg';
import { withTransaction } from '../db/transaction';

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
SELECT id, user_key,
       NOT EXISTS (
         SELECT 1 FROM delivery_jobs o
         WHERE o.destination_id = $1 AND o.user_key = d.user_key AND o.id < d.id
       ) AS oldest
FROM delivery_jobs d
WHERE destination_id = $1 AND next_attempt_at <= now() AND locked_until <= now()
ORDER BY id
LIMIT $2
FOR UPDATE SKIP LOCKED`;

// The first n rows of each key, n being how many of its rows the claim holds.
const FIRST_ROWS_OF_KEYS = `
SELECT k.user_key, r.id
FROM unnest($2::text[], $3::int[]) AS k(user_key, n)
CROSS JOIN LATERAL (
  SELECT id FROM delivery_jobs
  WHERE destination_id = $1 AND user_key = k.user_key
  ORDER BY id LIMIT k.n
) r
ORDER BY k.user_key, r.id`;

// Rows are found by (destination_id, id): the delivery_jobs_due index.
const TAKE = `
UPDATE delivery_jobs
SET locked_until = now() + $3::interval, first_attempt_at = coalesce(first_attempt_at, now())
WHERE destination_id = $1 AND id = ANY($2::bigint[])
RETURNING segment, id, user_key, source_id, message_id, received_at, payload, attempts, first_attempt_at`;

// Only behind an older row waiting for a retry: one in flight will be done in a moment.
const PUSH_BACK = `
UPDATE delivery_jobs d SET next_attempt_at = w.until
FROM (
  SELECT b.id, (SELECT max(o.next_attempt_at) FROM delivery_jobs o
                WHERE o.destination_id = $1 AND o.user_key = b.user_key AND o.id < b.id) AS until
  FROM delivery_jobs b WHERE b.destination_id = $1 AND b.id = ANY($2::bigint[])
) w
WHERE d.destination_id = $1 AND d.id = w.id AND w.until > now()`;

/** Claims rows for `destinationId`; returns them grouped per user key, each group in order. */
export async function claimDeliveries(
  pool: pg.Pool,
  destinationId: string,
  options: ClaimOptions,
): Promise<ClaimedDelivery[][]> {
  const claimed = await withTransaction(pool, async (client): Promise<ClaimedDelivery[]> => {
    const { rows: candidates } = await client.query<{
      id: number;
      user_key: string;
      oldest: boolean;
    }>(LOCK_CANDIDATES, [destinationId, options.limit]);
    const byKey = groupBy(candidates, (row) => row.user_key);
    const take: number[] = [];
    const pushBack: number[] = [];
    const prefixKeys: string[] = [];
    for (const [key, rows] of byKey) {
      if (!rows[0].oldest) pushBack.push(...rows.map((row) => row.id));
      else if (rows.length === 1 || options.perKey === 1) take.push(rows[0].id);
      else prefixKeys.push(key);
    }
    if (prefixKeys.length > 0) {
      const { rows: prefixes } = await client.query<{ user_key: string; id: number }>(
        FIRST_ROWS_OF_KEYS,
        [
          destinationId,
          prefixKeys,
          prefixKeys.map((key) => Math.min(byKey.get(key)!.length, options.perKey)),
        ],
      );
      for (const [key, prefix] of groupBy(prefixes, (row) => row.user_key)) {
        const held = new Set(byKey.get(key)!.map((row) => row.id));
        // The key's rows in order, as long as each is one of ours: a gap means a row in flight
        // elsewhere or waiting, and everything behind it must wait too.
        for (const { id } of prefix) {
          if (!held.has(id)) break;
          take.push(id);
          held.delete(id);
        }
        pushBack.push(...held);
      }
    }
    if (pushBack.length > 0) await client.query(PUSH_BACK, [destinationId, pushBack]);
    if (take.length === 0) return [];
    const { rows } = await client.query(TAKE, [
      destinationId,
      take,
      `${options.leaseMs} milliseconds`,
    ]);
    return rows.map((row) => ({
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
  });
  return [
    ...groupBy(
      claimed.sort((a, b) => a.id - b.id),
      (row) => row.userKey,
    ).values(),
  ];
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
