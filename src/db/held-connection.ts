/**
 * A pooled connection held across several queries (a transaction, the router's DeliveryLocks
 * session). pg reports a connection lost between queries (a database restart) as an 'error' event
 * on the client, and a checked-out client has no listener for it, so the event would crash the
 * process. Held through these two functions, the loss surfaces where it can be handled: the next
 * query on it fails.
 */
import type pg from 'pg';

export async function holdConnection(pool: pg.Pool): Promise<pg.PoolClient> {
  const client = await pool.connect();
  client.on('error', ignoreLostConnection);
  return client;
}

/** Returns a held connection to its pool; a broken one is closed instead of reused. */
export function releaseConnection(client: pg.PoolClient, broken = false): void {
  client.off('error', ignoreLostConnection);
  client.release(broken);
}

function ignoreLostConnection(): void {}
