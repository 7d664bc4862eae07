/**
 * Records what happened to a round's deliveries, in bulk, in one transaction:
 * - delivered rows are deleted (their segment is dropped once empty, see queue/segments.ts);
 * - rows to retry get their next attempt time and error;
 * - rows claimed but never sent (behind a failed row of the same user) wait for that retry;
 * - aborted rows move to dead_letters with the last request and response, in one statement, so
 *   a row is never in both places or neither.
 * Diagnostic text (errors, reasons, requests, responses) is stored as storableText: a vendor's
 * NUL byte must not make the round's outcomes unrecordable. See record-outcomes.ts for what
 * happens when recording fails all the same.
 */
import type pg from 'pg';
import { storableText, storableTextOrNull } from '../db/storable-text';
import { withTransaction } from '../db/transaction';

export interface RowRef {
  id: number;
}

export interface Retry extends RowRef {
  nextAttemptAt: Date;
  error: string;
}

export interface Abort extends RowRef {
  reason: string;
  request?: string;
  response?: string;
}

export interface Completion {
  delivered: RowRef[];
  retried: Retry[];
  released: Array<RowRef & { nextAttemptAt: Date }>;
  aborted: Abort[];
}

/** Records the outcomes of one destination's rows (found by (destination_id, id), its index). */
export async function completeDeliveries(
  pool: pg.Pool,
  destinationId: string,
  completion: Completion,
): Promise<void> {
  const { delivered, retried, released, aborted } = completion;
  if (delivered.length + retried.length + released.length + aborted.length === 0) return;
  await withTransaction(pool, async (client) => {
    if (delivered.length > 0) {
      await client.query(
        'DELETE FROM delivery_jobs WHERE destination_id = $1 AND id = ANY($2::bigint[])',
        [destinationId, delivered.map((row) => row.id)],
      );
    }
    if (retried.length > 0) {
      await client.query(
        `UPDATE delivery_jobs j
         SET attempts = attempts + 1, next_attempt_at = r.next_attempt_at, last_error = r.error,
             first_attempt_at = coalesce(first_attempt_at, now())
         FROM unnest($2::bigint[], $3::timestamptz[], $4::text[]) AS r(id, next_attempt_at, error)
         WHERE j.destination_id = $1 AND j.id = r.id`,
        [
          destinationId,
          retried.map((row) => row.id),
          retried.map((row) => row.nextAttemptAt),
          retried.map((row) => storableText(row.error)),
        ],
      );
    }
    if (released.length > 0) {
      await client.query(
        `UPDATE delivery_jobs j
         SET next_attempt_at = r.next_attempt_at
         FROM unnest($2::bigint[], $3::timestamptz[]) AS r(id, next_attempt_at)
         WHERE j.destination_id = $1 AND j.id = r.id`,
        [destinationId, released.map((row) => row.id), released.map((row) => row.nextAttemptAt)],
      );
    }
    if (aborted.length > 0) {
      await client.query(
        `WITH reasons AS (
           SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
             AS a(id, reason, request, response)
         ), moved AS (
           DELETE FROM delivery_jobs j USING reasons a
           WHERE j.destination_id = $1 AND j.id = a.id
           RETURNING j.*, a.reason, a.request, a.response
         )
         INSERT INTO dead_letters (destination_id, user_key, source_id, message_id, received_at,
                                   payload, attempts, reason, last_request, last_response)
         SELECT destination_id, user_key, source_id, message_id, received_at, payload,
                attempts + 1, reason, request, response
         FROM moved ORDER BY id`,
        [
          destinationId,
          aborted.map((row) => row.id),
          aborted.map((row) => storableText(row.reason)),
          aborted.map((row) => storableTextOrNull(row.request)),
          aborted.map((row) => storableTextOrNull(row.response)),
        ],
      );
    }
  });
}
