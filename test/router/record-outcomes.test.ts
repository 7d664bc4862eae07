/**
 * Recording a round's outcomes after its requests went out: a transient database error is
 * retried (the events are not sent again), and a row whose outcome cannot be recorded is
 * isolated and dead-lettered while the rows behind it and other users' rows are delivered.
 * Failures are injected by a pool whose connections fail chosen queries.
 */
import type pg from 'pg';
import { defineDestination } from '../../destinations/destination';
import { deadLetterRows, enqueueDeliveries, queuedJobs, testHook } from '../support/deliveries';
import { eventually } from '../support/eventually';
import { answerByEvent, routerTestbed } from '../support/router-testbed';

const testbed = routerTestbed();

/**
 * The test database's pool, but a query on a connection taken for a transaction (where outcomes
 * are recorded) fails with the error `failure` returns for it.
 */
function failingPool(failure: (sql: string, params: unknown[]) => Error | undefined): pg.Pool {
  const bound = <T extends object>(target: T, property: string | symbol) => {
    const value = Reflect.get(target, property) as unknown;
    return typeof value === 'function' ? value.bind(target) : value;
  };
  return new Proxy(testbed.database.pool, {
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

/**
 * Queues `events`, runs a worker of `destination` on `pool` until the queue is empty, and returns
 * the events the vendor received, sorted.
 */
async function deliverAll(
  pool: pg.Pool,
  events: Array<{ userId: string; event: string }>,
  destination = testHook(),
): Promise<string[]> {
  await enqueueDeliveries(testbed.database.pool, 'hook', events);
  testbed.worker(destination, { url: testbed.vendor.url }, { pool }).start();
  await eventually(async () => expect(await queuedJobs(testbed.database.pool, 'hook')).toEqual([]));
  return testbed.vendor.requests.map((r) => (JSON.parse(r.body) as { event: string }).event).sort();
}

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
  const sent = await deliverAll(pool, [
    { userId: 'u1', event: 'A' },
    { userId: 'u2', event: 'B' },
    { userId: 'u1', event: 'C' },
  ]);
  expect(failures).toBe(1);
  expect(sent).toEqual(['A', 'B', 'C']);
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
  testbed.vendor.script = answerByEvent({
    json: { status: 400, body: '{"error":"nul \\u0000 lone \\ud800 end"}' },
    raw: { status: 400, body: rawBody },
  });
  const events = ['json', 'raw', 'after-json', 'after-raw', 'other'];
  const users = ['u1', 'u2', 'u1', 'u2', 'u3'];
  const sent = await deliverAll(
    testbed.database.pool,
    events.map((event, index) => ({ userId: users[index], event })),
    quoting,
  );
  expect(sent).toEqual([...events].sort());

  const letters = await deadLetterRows(testbed.database.pool, 'hook');
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
  testbed.vendor.script = answerByEvent({
    poison: { status: 400, body: 'refused: poison' },
    bad: { status: 400, body: 'refused' },
  });
  const sent = await deliverAll(pool, [
    { userId: 'u1', event: 'poison' },
    { userId: 'u2', event: 'fine-1' },
    { userId: 'u1', event: 'after' },
    { userId: 'u3', event: 'bad' },
    { userId: 'u2', event: 'fine-2' },
  ]);
  // Each event was sent once: the round's outcomes were recorded, in parts.
  expect(sent).toEqual(['after', 'bad', 'fine-1', 'fine-2', 'poison']);
  expect(failures).toBeGreaterThan(1);
  const letters = await deadLetterRows(testbed.database.pool, 'hook');
  expect(letters.map((letter) => [JSON.parse(letter.payload).event, letter.reason])).toEqual([
    [
      'poison',
      'its outcome (aborted) could not be recorded: invalid byte sequence for encoding "UTF8"',
    ],
    ['bad', 'HTTP 400: refused'],
  ]);
});
