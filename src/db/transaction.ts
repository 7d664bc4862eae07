/**
 * Runs work in one transaction: COMMIT when it returns, ROLLBACK when it throws. Given a pool, it
 * takes a connection for the transaction and gives it back; given a connection, it uses it.
 */
import type pg from 'pg';
import { holdConnection, releaseConnection } from './held-connection';

export async function withTransaction<T>(
  target: pg.Pool | pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const held = 'release' in target;
  const client = held ? target : await holdConnection(target);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection that cannot even roll back is closed rather than reused.
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw error;
  } finally {
    if (!held) releaseConnection(client, broken);
  }
}
