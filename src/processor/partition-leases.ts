/**
 * Leases on the 64 ingest partitions, shared fairly among live processors. Each refresh
 * heartbeats this member, renews its leases, gives back partitions beyond its fair share
 * (ceil(64 / live members)) and takes free or expired ones up to it. A member that dies stops
 * renewing; its leases lapse after `ttlMs` and others take them over.
 *
 * Leases keep processors from working on the same partition; they are not what makes the
 * hand-off safe — that is the cursor row lock in hand-off.ts.
 */
import type pg from 'pg';
import { withTransaction } from '../db/transaction';
import { PARTITION_COUNT } from '../queue/partition';

export interface LeaseOptions {
  ttlMs: number;
}

export class PartitionLeases {
  #owned: number[] = [];

  constructor(
    private readonly pool: pg.Pool,
    readonly member: string,
    private readonly options: LeaseOptions,
  ) {}

  /** The partitions this member holds, as of the last refresh. */
  get owned(): readonly number[] {
    return this.#owned;
  }

  async refresh(): Promise<readonly number[]> {
    const ttl = `${this.options.ttlMs} milliseconds`;
    const owned = await withTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO processor_members (member) VALUES ($1)
         ON CONFLICT (member) DO UPDATE SET heartbeat_at = now()`,
        [this.member],
      );
      const { rows: members } = await client.query<{ alive: number }>(
        `SELECT count(*)::int AS alive FROM processor_members
         WHERE heartbeat_at > now() - $1::interval`,
        [ttl],
      );
      const fairShare = Math.ceil(PARTITION_COUNT / Math.max(1, members[0].alive));
      const { rows: renewed } = await client.query<{ partition: number }>(
        `UPDATE processor_leases SET expires_at = now() + $2::interval
         WHERE member = $1 AND expires_at > now() RETURNING partition`,
        [this.member, ttl],
      );
      let owned = renewed.map((row) => row.partition).sort((a, b) => a - b);
      if (owned.length > fairShare) {
        await client.query(
          `UPDATE processor_leases SET member = NULL, expires_at = '-infinity'
           WHERE partition = ANY($1::smallint[])`,
          [owned.slice(fairShare)],
        );
        owned = owned.slice(0, fairShare);
      } else if (owned.length < fairShare) {
        const { rows: taken } = await client.query<{ partition: number }>(
          `UPDATE processor_leases SET member = $1, expires_at = now() + $3::interval
           WHERE partition IN (
             SELECT partition FROM processor_leases
             WHERE member IS NULL OR expires_at <= now()
             ORDER BY partition LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING partition`,
          [this.member, fairShare - owned.length, ttl],
        );
        owned = [...owned, ...taken.map((row) => row.partition)].sort((a, b) => a - b);
      }
      await client.query(
        `DELETE FROM processor_members WHERE heartbeat_at < now() - $1::interval * 4`,
        [ttl],
      );
      return owned;
    });
    this.#owned = owned;
    return owned;
  }

  /** Gives every partition back at once (graceful shutdown), and leaves the member list. */
  async releaseAll(): Promise<void> {
    this.#owned = [];
    await this.pool.query(
      `WITH released AS (
         UPDATE processor_leases SET member = NULL, expires_at = '-infinity' WHERE member = $1
       )
       DELETE FROM processor_members WHERE member = $1`,
      [this.member],
    );
  }
}
