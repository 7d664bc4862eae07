/**
 * Claims due deliveries of one destination for a router round, keeping each user's events in
 * order, without writing a lease to any row:
 *
 * 1. Walk the due rows in id order, passing over the rows of user keys that some round holds
 *    (their (destination, user key) advisory lock is taken: see delivery-locks.ts), noting for
 *    each row whether it is its key's oldest. Rounds in flight — in this process or another — so
 *    take nothing from the limit, and concurrent rounds claim different users.
 * 2. Lock the keys whose oldest row was found. A key is in flight for as long as it is locked.
 * 3. For each locked key, read its rows from the oldest on, after locking, and take the due
 *    prefix (rows behind a row waiting for a retry wait too).
 * Rows behind an older row that waits for a retry are pushed to the time it is due, so later
 * walks skip them by the due condition instead of re-examining them every round — a dead
 * destination costs almost nothing to poll.
 *
 * No UPDATE per claimed row and no row locks: the delivery table is written only when outcomes
 * are recorded (complete), and no connection or transaction is held while requests are in
 * flight, so a slow destination ties up no database resources and never holds back the
 * processor (see processor/read-ingest-chunk.ts).
 *
 * The walk must be an index scan in id order: ROUTER_SESSION_SETTINGS keep stale statistics on
 * this fast-changing table from turning it into a bitmap scan and sort of every due row.
 */
import type pg from 'pg';
import type { Completion } from './complete-deliveries';
import { lockIdSql, lockSpaceSql, type DeliveryLocks, type HeldKeys } from './delivery-locks';
import { recordOutcomes, type UnrecordedRow } from './record-outcomes';

export interface ClaimedDelivery {
  id: number;
  userKey: string;
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

// The users locked (delivery-locks.ts) are read once per walk, as a hashed subplan; pg_locks shows
// a lock's two int4s as unsigned oids.
export const DUE_ROWS = `
SELECT id, user_key,
       NOT EXISTS (
         SELECT 1 FROM delivery_jobs o
         WHERE o.destination_id = $1 AND o.user_key = d.user_key AND o.id < d.id
       ) AS oldest
FROM delivery_jobs d
WHERE destination_id = $1 AND next_attempt_at <= now()
  AND (${lockIdSql('d.user_key')}::bigint & 4294967295) NOT IN (
    SELECT objid::bigint FROM pg_locks
    WHERE locktype = 'advisory' AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND classid = (${lockSpaceSql('$1')}::bigint & 4294967295)::oid
  )
ORDER BY id
LIMIT $2`;

/** Planner settings for the router's connections; see the comment at the top. */
export const ROUTER_SESSION_SETTINGS = { enable_bitmapscan: 'off', enable_seqscan: 'off' };

const ROWS_OF_KEYS = `
SELECT k.user_key, r.id, r.message_id, r.received_at, r.payload,
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
    private readonly pool: pg.Pool,
    private readonly locks: DeliveryLocks,
    private readonly held: HeldKeys,
    /** The claimed rows grouped per user key, each group in order. */
    readonly groups: ClaimedDelivery[][],
  ) {}

  get destinationId(): string {
    return this.held.destinationId;
  }

  /** Claims a round, or returns undefined when nothing is due. */
  static async claim(
    pool: pg.Pool,
    locks: DeliveryLocks,
    destinationId: string,
    options: ClaimOptions,
  ): Promise<DeliveryRound | undefined> {
    const { rows: walked } = await pool.query<{ id: number; user_key: string; oldest: boolean }>(
      DUE_ROWS,
      [destinationId, options.limit],
    );
    if (walked.length === 0) return undefined;
    const heads = new Set(walked.filter((row) => row.oldest).map((row) => row.user_key));
    const blocked = walked.filter((row) => !heads.has(row.user_key)).map((row) => row.id);
    if (blocked.length > 0) await pool.query(PUSH_BACK, [destinationId, blocked]);
    if (heads.size === 0) return undefined;
    const held = await locks.lock(destinationId, [...heads]);
    if (held.keys.length === 0) return undefined;
    let groups: ClaimedDelivery[][];
    try {
      groups = await rowsOf(pool, held, options.perKey);
    } catch (error) {
      await locks.unlock(held);
      throw error;
    }
    if (groups.length > 0) return new DeliveryRound(pool, locks, held, groups);
    await locks.unlock(held);
    return undefined;
  }

  /**
   * Records the outcomes (see record-outcomes.ts), then frees the round's keys (also when
   * recording failed); returns the rows dead-lettered because their outcome could not be recorded.
   */
  async complete(completion: Completion): Promise<UnrecordedRow[]> {
    if (this.#done) return [];
    this.#done = true;
    try {
      return await recordOutcomes(this.pool, this.destinationId, completion);
    } finally {
      await this.locks.unlock(this.held);
    }
  }

  /** Gives the rows back untouched (they are claimable again at once). */
  async abandon(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.locks.unlock(this.held);
  }
}

/** The locked keys' rows, read after locking: the due prefix of each, users in queue order. */
async function rowsOf(pool: pg.Pool, held: HeldKeys, perKey: number): Promise<ClaimedDelivery[][]> {
  const { rows } = await pool.query(ROWS_OF_KEYS, [held.destinationId, held.keys, perKey]);
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
      id: Number(row.id),
      userKey: row.user_key,
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
