/**
 * The (destination, user key) pairs a router process has in flight, held as session advisory
 * locks on one connection of its own. Other processes' claims skip the rows of locked keys (see
 * claim-deliveries.ts); within the process, the set of held keys keeps two rounds off one key
 * (a session's advisory locks nest, so the lock alone would let a second round in).
 *
 * Holding keys costs one connection per process, however many rounds are in flight and however
 * long a slow destination keeps them. When the process dies its connection closes and every key
 * is free again at once. If the connection is lost while rounds are in flight, their keys are
 * free to other processes early, so an event may be sent twice (at least once, never lost); the
 * next claim opens a new connection.
 */
import type pg from 'pg';
import { holdConnection, releaseConnection } from '../db/held-connection';
import { OneAtATime } from '../one-at-a-time';

/**
 * SQL for the two int4s of a user's lock: the destination's hash, then the user key's hash. A
 * collision only makes two users wait for each other (and nests: each is unlocked once).
 */
export const lockSpaceSql = (destination: string) =>
  `hashtext('sluice.delivery:' || ${destination})`;
export const lockIdSql = (userKey: string) => `hashtext(${userKey})`;

const LOCK_KEYS = `
SELECT k.user_key FROM unnest($2::text[]) AS k(user_key)
WHERE pg_try_advisory_lock(${lockSpaceSql('$1')}, ${lockIdSql('k.user_key')})`;

const UNLOCK_KEYS = `
SELECT pg_advisory_unlock(${lockSpaceSql('$1')}, ${lockIdSql('k.user_key')})
FROM unnest($2::text[]) AS k(user_key)`;

/** Keys some round holds, as handed out by lock(). */
export interface HeldKeys {
  readonly destinationId: string;
  readonly keys: readonly string[];
  /** The session that holds them (a lost session's keys need no unlocking). */
  readonly session: number;
}

export class DeliveryLocks {
  #session: Promise<pg.PoolClient> | undefined;
  #sessionNumber = 0;
  #held = new Set<string>();
  #closed = false;
  /** Rounds share the session; its queries go one at a time. */
  #queries = new OneAtATime();

  constructor(private readonly pool: pg.Pool) {}

  /** Locks those of `keys` that no round holds; returns the ones now held for the caller. */
  async lock(destinationId: string, keys: readonly string[]): Promise<HeldKeys> {
    // Reserved before the first await, so that a concurrent round cannot ask for them too.
    const wanted = keys.filter((key) => !this.#held.has(heldName(destinationId, key)));
    for (const key of wanted) this.#held.add(heldName(destinationId, key));
    let locked: string[] = [];
    const session = this.#sessionNumber;
    try {
      if (wanted.length > 0) {
        const client = await this.#client();
        const { rows } = await this.#query<{ user_key: string }>(client, LOCK_KEYS, [
          destinationId,
          wanted,
        ]);
        locked = rows.map((row) => row.user_key);
      }
    } catch (error) {
      this.#lost(session);
      throw error;
    } finally {
      const got = new Set(locked);
      for (const key of wanted) if (!got.has(key)) this.#held.delete(heldName(destinationId, key));
    }
    return { destinationId, keys: locked, session };
  }

  /** Frees keys handed out by lock(). Never throws: a lost session has freed them already. */
  async unlock(held: HeldKeys): Promise<void> {
    if (held.keys.length === 0) return;
    try {
      if (held.session === this.#sessionNumber && this.#session) {
        const client = await this.#session;
        await this.#query(client, UNLOCK_KEYS, [held.destinationId, held.keys]);
      }
    } catch {
      this.#lost(held.session);
    } finally {
      for (const key of held.keys) this.#held.delete(heldName(held.destinationId, key));
    }
  }

  /** Closes the session, freeing every key it holds. */
  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = undefined;
    if (session) releaseConnection(await session, true);
  }

  /** pg queues a query sent while another runs, but warns that pg@9 will refuse to. */
  #query<R extends pg.QueryResultRow>(
    client: pg.PoolClient,
    sql: string,
    params: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#queries.run(() => client.query<R>(sql, params));
  }

  #client(): Promise<pg.PoolClient> {
    if (this.#closed) throw new Error('the delivery locks are closed');
    if (!this.#session) {
      const session = holdConnection(this.pool);
      // A failed connect is retried by the next claim.
      session.catch(() => {
        if (this.#session === session) this.#session = undefined;
      });
      this.#session = session;
      // A new session does not wait behind the queries of a lost one.
      this.#queries = new OneAtATime();
    }
    return this.#session;
  }

  /** Drops a session whose query failed: its connection, and its locks with it, are gone. */
  #lost(session: number): void {
    if (session !== this.#sessionNumber || !this.#session) return;
    const lost = this.#session;
    this.#session = undefined;
    this.#sessionNumber += 1;
    void lost.then((client) => releaseConnection(client, true)).catch(() => undefined);
  }
}

function heldName(destinationId: string, key: string): string {
  return `${destinationId}\u0000${key}`;
}
