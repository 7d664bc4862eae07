/**
 * The dead-letter store: deliveries the router gave up on, listed for the operator and replayed
 * on request. A replayed letter goes back into the delivery queue (behind its user's newer events)
 * and out of the store, in one statement.
 */
import type pg from 'pg';

export interface DeadLetterFilter {
  destinationId?: string;
  ids?: number[];
}

export interface DeadLetter {
  id: number;
  failedAt: Date;
  destinationId: string;
  userKey: string;
  sourceId: string;
  messageId: string;
  attempts: number;
  reason: string;
  lastRequest: string | null;
  lastResponse: string | null;
  payload: string;
}

const WHERE = `($1::text IS NULL OR destination_id = $1) AND ($2::bigint[] IS NULL OR id = ANY($2))`;

export async function listDeadLetters(
  pool: pg.Pool,
  filter: DeadLetterFilter,
  limit = 100,
): Promise<DeadLetter[]> {
  const { rows } = await pool.query(
    `SELECT * FROM dead_letters WHERE ${WHERE} ORDER BY id LIMIT $3`,
    [filter.destinationId ?? null, filter.ids ?? null, limit],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    failedAt: row.failed_at,
    destinationId: row.destination_id,
    userKey: row.user_key,
    sourceId: row.source_id,
    messageId: row.message_id,
    attempts: row.attempts,
    reason: row.reason,
    lastRequest: row.last_request,
    lastResponse: row.last_response,
    payload: row.payload,
  }));
}

/**
 * Moves matching dead letters back into the delivery queue; returns how many. One statement
 * claims and moves: when two replays run at once (the CLI and the admin API), the second one's
 * DELETE waits for the first's and then skips the rows it took, so each letter is queued once.
 */
export async function replayDeadLetters(pool: pg.Pool, filter: DeadLetterFilter): Promise<number> {
  const result = await pool.query(
    `WITH moved AS (DELETE FROM dead_letters WHERE ${WHERE} RETURNING *)
     INSERT INTO delivery_jobs (segment, destination_id, user_key, source_id, message_id, received_at, payload)
     SELECT (SELECT max(segment) FROM delivery_segments), destination_id, user_key, source_id,
            message_id, received_at, payload
     FROM moved ORDER BY id`,
    [filter.destinationId ?? null, filter.ids ?? null],
  );
  return result.rowCount ?? 0;
}
