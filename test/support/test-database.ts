/**
 * A migrated database of its own for each test file, on the server global-setup found. Dropped
 * after the file's tests, unless one failed: then it is kept and its name printed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, type Database } from '../../src/db/database';
import { migrate } from '../../src/db/migrate';
import { createLogger } from '../../src/log';

export interface TestDatabase extends Database {
  readonly url: string;
  readonly name: string;
  /** Closes the pool and drops the database (kept if a test in the file failed). */
  drop(): Promise<void>;
}

export function adminUrl(): string {
  const url = process.env.SLUICE_TEST_ADMIN_URL;
  if (!url) throw new Error('SLUICE_TEST_ADMIN_URL is not set: run the tests through jest');
  return url;
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(
  options: { poolSize?: number } = {},
): Promise<TestDatabase> {
  const name = `sluice_test_${randomBytes(5).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = databaseUrl(name);
  const database = createDatabase(url, {
    poolSize: options.poolSize ?? 10,
    logger: createLogger('silent'),
  });
  await migrate(database.pool);
  return {
    ...database,
    url,
    name,
    async drop() {
      await database.close();
      if ((globalThis as { __sluiceTestFailed?: boolean }).__sluiceTestFailed) {
        process.stderr.write(`test database kept for inspection: ${url}\n`);
        return;
      }
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** An empty database of its own, playing a user's warehouse; dropped like the test databases. */
export async function createWarehouseDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sluice_wh_${randomBytes(5).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    url: databaseUrl(name),
    async drop() {
      if ((globalThis as { __sluiceTestFailed?: boolean }).__sluiceTestFailed) {
        process.stderr.write(`warehouse database kept for inspection: ${databaseUrl(name)}\n`);
        return;
      }
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
