/**
 * Recording a round's outcomes after its requests went out: a transient database error is
 * retried (the events are not sent again), and a row whose outcome cannot be recorded is
 * isolated and dead-lettered while the rows behind it and other users' rows are delivered.
 * Failures are injected by a pool whose connections fail chosen queries.
 */
import type pg from 'pg';
import { defineDestination } from '../../destinations/destination';
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { DeliveryLocks } from '../../src/router/delivery-locks';
import { DestinationWorker } from '../../src/router/destination-worker';
import { deadLetterRows, enqueueDeliveries, queuedJobs, testHook } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { startVendor, type VendorServer } from '../support/vendor-server';

let database: TestDatabase;
let locks: DeliveryLocks;
let vendor: VendorServer;
const workers: DestinationWorker[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  locks = new DeliveryLocks(database.pool);
  vendor = await startVendor();
});
afterAll(async () => {
  await vendor?.close();
  await locks?.close();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE delivery_jobs, dead_letters');
  vendor.requests.length = 0;
  vendor.script = () => ({ status: 200 });
});
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

/**
 * The test database's pool, but a query on a connection taken for a transaction (where outcomes
 * are recorded) fails with the error `failure` returns for it.
 */
function failingPool(failure: (sql: string, params: unknown[]) => Error | undefined): pg.Pool {
  const bound = <T extends object>(target: T, property: string | symbol) => {
    const value = Reflect.get(target, property) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  };
  return new Proxy(database.pool, {
    get(pool, property) {
      if (property !== 'connect') return bound(pool, property);
      return async () => {
        const client = await pool.connect();
        return new Proxy(client, {
          get(target, name) {
            if (name !== 'query') return bound(target, name);
            return (sql: string, params: unknown[] = []) => {
              const error = failure(sql, params);
              return error ? Promise.reject(error) : target.query(sql, params);
            };
          },
        });
      };
    },
  });
}

function worker(pool: pg.Pool, destination = testHook()): DestinationWorker {
  const created = new DestinationWorker(
    { pool, locks, logger: createLogger('silent'), metrics: createMetrics() },
    'hook',
    destination,
    { config: { url: vendor.url }, destination: { id: 'hook' } },
    { maxConcurrency: 4, timeoutMs: 5000, maxAttempts: 10, maxRetryHours: 3 },
    {
      parallelRounds: 1,
      claimLimit: 100,
      idleMs: 10,
      backoff: { baseMs: 30, maxMs: 200 },
      quickRetries: 0,
      quickRetryMinMs: 10,
    },
  );
  workers.push(created);
  return created;
}

const eventsSent = () =>
  vendor.requests.map((r) => (JSON.parse(r.body) as { event: string }).event);

test('a complete that fails transiently is retried: the events are delivered once', async () => {
  let failures = 0;
  // The database drops the connection as the round's outcomes are being recorded.
  const pool = failingPool((sql) => {
    if (failures > 0 || !sql.startsWith('DELETE FROM delivery_jobs')) return undefined;
    failures++;
    return Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    });
  });
  await enqueueDeliveries(database.pool, 'hook', [
    { userId: 'u1', event: 'A' },
    { userId: 'u2', event: 'B' },
    { userId: 'u1', event: 'C' },
  ]);
  worker(pool).start();
  await eventually(async () => expect(await queuedJobs(database.pool, 'hook')).toEqual([]));
  expect(failures).toBe(1);
  expect(eventsSent().sort()).toEqual(['A', 'B', 'C']);
});

test('a vendor body with NUL bytes and lone surrogates is stored sanitized; nothing is held back', async () => {
  // The vendor's JSON error carries U+0000 and a lone surrogate as escapes, which a destination
  // reading it turns into the characters themselves; its plain-text error carries raw NUL bytes
  // and a surrogate encoded as UTF-8 would encode it (invalid UTF-8).
  const quoting = defineDestination({
    ...testHook(),
    interpretResponse: (response) =>
      response.status === 400 && response.body.startsWith('{')
        ? { outcome: 'abort', reason: `vendor: ${JSON.parse(response.body).error}` }
        : undefined,
  });
  const rawBody = Buffer.concat([
    Buffer.from('bad\u0000\u0000byte '),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from(' end'),
  ]);
  vendor.script = (request) => {
    const { event } = JSON.parse(request.body) as { event: string };
    if (event === 'json') return { status: 400, body: '{"error":"nul \\u0000 lone \\ud800 end"}' };
    if (event === 'raw') return { status: 400, body: rawBody, headers: { 'x-raw': 'yes' } };
    return { status: 200 };
  };
  await enqueueDeliveries(database.pool, 'hook', [
    { userId: 'u1', event: 'json' },
    { userId: 'u2', event: 'raw' },
    { userId: 'u1', event: 'after-json' },
    { userId: 'u2', event: 'after-raw' },
    { userId: 'u3', event: 'other' },
  ]);
  worker(database.pool, quoting).start();
  await eventually(async () => expect(await queuedJobs(database.pool, 'hook')).toEqual([]));
  expect(eventsSent().sort()).toEqual(['after-json', 'after-raw', 'json', 'other', 'raw']);

  const letters = await deadLetterRows(database.pool, 'hook');
  const byEvent = new Map(letters.map((letter) => [JSON.parse(letter.payload).event, letter]));
  expect([...byEvent.keys()].sort()).toEqual(['json', 'raw']);
  expect(byEvent.get('json').reason).toBe('vendor: nul \ufffd lone \ufffd end');
  expect(byEvent.get('raw').reason).toMatch(/^HTTP 400: bad\ufffd\ufffdbyte \ufffd+ end$/);
  const rawResponse = JSON.parse(byEvent.get('raw').last_response);
  expect(rawResponse.body).not.toContain('\u0000');
  expect(rawResponse.body.isWellFormed()).toBe(true);
});

test('a row whose outcome cannot be recorded is isolated and dead-lettered; the rest are recorded', async () => {
  // Recording any outcome of the "poison" event fails on the data, whatever it is written with.
  let failures = 0;
  const pool = failingPool((_sql, params) => {
    if (!JSON.stringify(params).includes('poison')) return undefined;
    failures++;
    return Object.assign(new Error('invalid byte sequence for encoding "UTF8"'), {
      code: '22021',
    });
  });
  vendor.script = (request) => {
    const { event } = JSON.parse(request.body) as { event: string };
    if (event === 'poison') return { status: 400, body: 'refused: poison' };
    if (event === 'bad') return { status: 400, body: 'refused' };
    return { status: 200 };
  };
  await enqueueDeliveries(database.pool, 'hook', [
    { userId: 'u1', event: 'poison' },
    { userId: 'u2', event: 'fine-1' },
    { userId: 'u1', event: 'after' },
    { userId: 'u3', event: 'bad' },
    { userId: 'u2', event: 'fine-2' },
  ]);
  worker(pool).start();
  await eventually(async () => expect(await queuedJobs(database.pool, 'hook')).toEqual([]));
  // Each event was sent once: the round's outcomes were recorded, in parts.
  expect(eventsSent().sort()).toEqual(['after', 'bad', 'fine-1', 'fine-2', 'poison']);
  expect(failures).toBeGreaterThan(1);
  const letters = await deadLetterRows(database.pool, 'hook');
  expect(letters.map((letter) => [JSON.parse(letter.payload).event, letter.reason])).toEqual([
    [
      'poison',
      'its outcome (aborted) could not be recorded: invalid byte sequence for encoding "UTF8"',
    ],
    ['bad', 'HTTP 400: refused'],
  ]);
});
