/**
 * Runs work in one transaction: COMMIT when it returns, ROLLBACK when it throws. It takes a
 * connection from the pool for the transaction and gives it back.
 */
import type pg from 'pg';
import { holdConnection, releaseConnection } from './held-connection';

export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await holdConnection(pool);
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
    releaseConnection(client, broken);
  }
}
