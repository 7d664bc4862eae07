import pg from 'pg';
import { isTransientDatabaseError, withTransientRetries } from '../../src/db/transient-errors';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

async function errorOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

test('errors about the data are not transient', async () => {
  const nul = await errorOf(() => db.pool.query('SELECT $1::text', ['a\u0000b']));
  expect(isTransientDatabaseError(nul)).toBe(false);
  const cast = await errorOf(() => db.pool.query(`SELECT 'x'::int`));
  expect(isTransientDatabaseError(cast)).toBe(false);
  expect(isTransientDatabaseError(new RangeError('Maximum call stack size exceeded'))).toBe(false);
});

test('a lost or unreachable database is transient, also as the cause of another error', async () => {
  const refused = await errorOf(async () => {
    const client = new pg.Client({ connectionString: 'postgres://127.0.0.1:1/none' });
    await client.connect();
  });
  expect(isTransientDatabaseError(refused)).toBe(true);
  expect(isTransientDatabaseError(new Error('wrapped', { cause: refused }))).toBe(true);

  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {});
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
  const terminated = await errorOf(() => client.query('SELECT 1'));
  expect(isTransientDatabaseError(terminated)).toBe(true);
  await client.end().catch(() => {});
});

test('withTransientRetries retries transient errors only', async () => {
  let calls = 0;
  const lost = Object.assign(new Error('Connection terminated unexpectedly'), {});
  const result = await withTransientRetries(
    async () => {
      if (++calls < 3) throw lost;
      return 'done';
    },
    { attempts: 5, firstDelayMs: 1, maxDelayMs: 2 },
  );
  expect([result, calls]).toEqual(['done', 3]);

  calls = 0;
  const bad = Object.assign(new Error('invalid input'), { code: '22P02' });
  await expect(
    withTransientRetries(
      async () => {
        calls++;
        throw bad;
      },
      { attempts: 5, firstDelayMs: 1, maxDelayMs: 2 },
    ),
  ).rejects.toBe(bad);
  expect(calls).toBe(1);

  calls = 0;
  await expect(
    withTransientRetries(
      async () => {
        calls++;
        throw lost;
      },
      { attempts: 3, firstDelayMs: 1, maxDelayMs: 2 },
    ),
  ).rejects.toBe(lost);
  expect(calls).toBe(3);
});
