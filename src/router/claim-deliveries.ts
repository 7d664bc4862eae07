/**
 * Claims due deliveries of one destination for a router round, keeping each user's events in
 * order, without writing a lease to any row:
 *
 * 1. Walk the due rows in id order, taking a session advisory lock per (destination, user key)
 *    on the round's own connection as the walk goes (pg_try_advisory_lock): a row whose key
 *    another round holds is in flight there and is passed over without counting towards the
 *    limit, so concurrent rounds — in this process or another — claim different users instead of
 *    all finding the same first rows taken. Holding the key lock is what "in flight" means; it is
 *    released when the round completes, or when its connection closes, so a crashed router's
 *    events are claimable again at once (at least once, nothing lost).
 * 2. For each locked key whose oldest row was among them, read its rows from the oldest on,
 *    after locking, and take the due prefix (rows behind a row waiting for a retry wait too).
 * Rows behind an older row that waits for a retry are pushed to the time it is due, so later
 * walks skip them by the due condition instead of re-examining them every round — a dead
 * destination costs almost nothing to poll.
 *
 * No UPDATE per claimed row and no row locks: the delivery table is written only when outcomes
 * are recorded (complete), and no transaction stays open while requests are in flight, which
 * would hold back the processor (see processor/read-ingest-chunk.ts).
 *
 * The walk must be an index scan in id order, so that locks are taken only on the rows it
 * returns: ROUTER_SESSION_SETTINGS keep stale statistics on this fast-changing table from
 * turning it into a bitmap scan and sort (which would lock every due row's key).
 */
import type pg from 'pg';
import { holdConnection, releaseConnection } from '../db/held-connection';
import { completeDeliveries, type Completion } from './complete-deliveries';

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
  /** Most rows looked at, and so most keys claimed. */
  limit: number;
  /** Most rows claimed per user key (1 unless the destination takes several in order). */
  perKey: number;
}

// The key lock is two int4s: the destination's hash and the user key's hash. A collision only
// makes two keys wait for each other. The lock is the last condition, so it is tried only on
// due rows; a key may be locked more than once by the same walk (locks nest per session).
const LOCKED_DUE_ROWS = `
SELECT id, user_key,
       NOT EXISTS (
         SELECT 1 FROM delivery_jobs o
         WHERE o.destination_id = $1 AND o.user_key = d.user_key AND o.id < d.id
       ) AS oldest
FROM delivery_jobs d
WHERE destination_id = $1 AND next_attempt_at <= now()
  AND pg_try_advisory_lock(hashtext('sluice.delivery:' || $1), hashtext(d.user_key))
ORDER BY id
LIMIT $2`;

/** Planner settings for the router's connections; see the comment at the top. */
export const ROUTER_SESSION_SETTINGS = { enable_bitmapscan: 'off', enable_seqscan: 'off' };

const ROWS_OF_KEYS = `
SELECT k.user_key, r.segment, r.id, r.source_id, r.message_id, r.received_at, r.payload,
       r.attempts, r.first_attempt_at, r.next_attempt_at <= now() AS due
FROM unnest($2::text[]) AS k(user_key)
CROSS JOIN LATERAL (
  SELECT * FROM delivery_jobs
  WHERE destination_id = $1 AND user_key = k.user_key
  ORDER BY id LIMIT $3
) r
ORDER BY k.user_key, r.id`;

// Only behind an older row waiting for a retry: one in flight will be done in a moment.
const PUSH_BACK = `
UPDATE delivery_jobs d SET next_attempt_at = w.until
FROM (
  SELECT b.id, (SELECT max(o.next_attempt_at) FROM delivery_jobs o
                WHERE o.destination_id = $1 AND o.user_key = b.user_key AND o.id < b.id) AS until
  FROM delivery_jobs b WHERE b.destination_id = $1 AND b.id = ANY($2::bigint[])
) w
WHERE d.destination_id = $1 AND d.id = w.id AND w.until > now()`;

/** A claimed round: its rows per user key, in order, held until completed or abandoned. */
export class DeliveryRound {
  #done = false;

  private constructor(
    private readonly client: pg.PoolClient,
    readonly destinationId: string,
    /** The claimed rows grouped per user key, each group in order. */
    readonly groups: ClaimedDelivery[][],
  ) {}

  /** Claims a round, or returns undefined when nothing is due. */
  static async claim(
    pool: pg.Pool,
    destinationId: string,
    options: ClaimOptions,
  ): Promise<DeliveryRound | undefined> {
    // Idle while the round's requests are in flight: see holdConnection.
    const client = await holdConnection(pool);
    try {
      const groups = await claimOn(client, destinationId, options);
      if (groups.length > 0) return new DeliveryRound(client, destinationId, groups);
      await unlockAll(client);
      releaseConnection(client);
      return undefined;
    } catch (error) {
      releaseConnection(client, true); // a broken connection: its locks go with it
      throw error;
    }
  }

  /** Records the outcomes, then frees the round's keys and connection. */
  async complete(completion: Completion): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await completeDeliveries(this.client, this.destinationId, completion);
      await unlockAll(this.client);
      releaseConnection(this.client);
    } catch (error) {
      releaseConnection(this.client, true);
      throw error;
    }
  }

  /** Gives the rows back untouched (they are claimable again at once). */
  async abandon(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await unlockAll(this.client);
      releaseConnection(this.client);
    } catch {
      // Closing the connection drops its locks too, once the server notices.
      releaseConnection(this.client, true);
    }
  }
}

async function claimOn(
  client: pg.PoolClient,
  destinationId: string,
  options: ClaimOptions,
): Promise<ClaimedDelivery[][]> {
  const { rows: walked } = await client.query<{ id: number; user_key: string; oldest: boolean }>(
    LOCKED_DUE_ROWS,
    [destinationId, options.limit],
  );
  if (walked.length === 0) return [];
  const heads = new Set(walked.filter((row) => row.oldest).map((row) => row.user_key));
  const blocked = walked.filter((row) => !heads.has(row.user_key)).map((row) => row.id);
  if (blocked.length > 0) await client.query(PUSH_BACK, [destinationId, blocked]);
  if (heads.size === 0) return [];
  const { rows } = await client.query(ROWS_OF_KEYS, [destinationId, [...heads], options.perKey]);
  const groups = new Map<string, ClaimedDelivery[]>();
  const stopped = new Set<string>();
  for (const row of rows) {
    // The due prefix: a row waiting for a retry holds back the rows behind it.
    if (stopped.has(row.user_key) || !row.due) {
      stopped.add(row.user_key);
      continue;
    }
    const group = groups.get(row.user_key) ?? [];
    group.push({
      segment: Number(row.segment),
      id: Number(row.id),
      userKey: row.user_key,
      sourceId: row.source_id,
      messageId: row.message_id,
      receivedAt: row.received_at,
      payload: row.payload,
      attempts: row.attempts,
      firstAttemptAt: row.first_attempt_at,
    });
    groups.set(row.user_key, group);
  }
  // Users in the order of their oldest event, as the queue has them.
  return [...groups.values()].sort((a, b) => a[0].id - b[0].id);
}

async function unlockAll(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_unlock_all()');
}
