/**
 * The messageIds remembered for deduplication (ingest_message_ids, migrations/000001): the key of
 * an event, and expiry of keys older than the dedup window.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** md5(sourceId, 0x1f, messageId) formatted as a uuid: fixed-size and cheap to index. */
export function messageKey(sourceId: string, messageId: string): string {
  const hex = createHash('md5').update(`${sourceId}\u001f${messageId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
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
