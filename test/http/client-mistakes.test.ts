/**
 * A client's mistake is a 4xx with a code from the error catalog, never a 500 with an error in
 * the log: bad %-encoding, admin bodies that are not JSON or name nothing that exists, ids the
 * database cannot take, bodies cut off. A request that arrives once shutdown began gets 503
 * SLUICE_E_SHUTTING_DOWN.
 */
import net from 'node:net';
import request from 'supertest';
import { eventually } from '../support/eventually';
import {
  BASIC_WORKSPACE,
  captureLogs,
  startTestSluice,
  WRITE_KEY,
  type LogCapture,
  type TestSluice,
} from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
let database: TestDatabase;
let sluice: TestSluice;
let logs: LogCapture;

beforeAll(async () => {
  database = await createTestDatabase();
  logs = captureLogs();
  sluice = await startTestSluice(database, {
    workspace: `${BASIC_WORKSPACE}transformations:\n  - { id: tag, file: tag.js }\n`,
    settings: { adminToken: ADMIN_TOKEN, roles: ['gateway'] },
    logs,
  });
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
});
afterEach(() => {
  // Whatever the client got wrong, nothing was logged as a failure of Sluice.
  expect(logs.text()).not.toMatch(/"level":"error"/);
});

const admin = (call: request.Test) => call.set('Authorization', `Bearer ${ADMIN_TOKEN}`);

test.each([
  `/v1/projects/%E0%A4%A/settings`,
  `/analytics.js/v1/%/analytics.min.js`,
  `/analytics-next/bundles/%ZZ.js`,
  `/v1/pixel/%E0`,
])('bad %%-encoding in %s gets 400 SLUICE_E_INVALID_URL', async (path) => {
  const response = await request(sluice.url).get(path);
  expect(response.status).toBe(400);
  expect(response.body.code).toBe('SLUICE_E_INVALID_URL');
});

test('an analytics.js chunk no build has gets 404', async () => {
  const response = await request(sluice.url).get('/analytics-next/bundles/no-such-chunk.js');
  expect(response.status).toBe(404);
  expect(response.body.code).toBe('SLUICE_E_NOT_FOUND');
});

test('an admin body that is not JSON gets 400 SLUICE_E_INVALID_JSON', async () => {
  const response = await admin(request(sluice.url).post('/admin/dead-letters/replay'))
    .set('Content-Type', 'application/json')
    .send('{"ids": [1,');
  expect(response.status).toBe(400);
  expect(response.body.code).toBe('SLUICE_E_INVALID_JSON');
});

test('an admin body in an encoding Sluice does not read gets 415', async () => {
  const response = await admin(request(sluice.url).post('/admin/dead-letters/replay'))
    .set('Content-Type', 'application/json')
    .set('Content-Encoding', 'x-unheard-of')
    .send('{}');
  expect(response.status).toBe(415);
  expect(response.body.code).toBe('SLUICE_E_UNSUPPORTED_ENCODING');
});

test('testing a transformation the workspace does not have gets 404', async () => {
  const response = await admin(request(sluice.url).post('/admin/transformations/test')).send({
    transformationId: 'nope',
    events: [{ type: 'track', userId: 'u', event: 'E' }],
  });
  expect(response.status).toBe(404);
  expect(response.body).toMatchObject({
    code: 'SLUICE_E_NOT_FOUND',
    message: expect.stringContaining('no transformation with id "nope"'),
  });
});

test.each([
  ['a destination filter holding NUL', 'get', '/admin/failed-events?destination=a%00b', undefined],
  [
    'a destination filter given twice',
    'get',
    '/admin/dead-letters?destination=a&destination=b',
    undefined,
  ],
  [
    'a destinationId holding NUL',
    'post',
    '/admin/failed-events/replay',
    { destinationId: 'a\u0000' },
  ],
  ['an id beyond bigint', 'post', '/admin/dead-letters/replay', { ids: [1e20] }],
])('%s gets 400 SLUICE_E_INVALID_REQUEST', async (_name, method, path, body) => {
  const call = method === 'get' ? request(sluice.url).get(path) : request(sluice.url).post(path);
  const response = await admin(call).send(body);
  expect(response.status).toBe(400);
  expect(response.body.code).toBe('SLUICE_E_INVALID_REQUEST');
});

test('a body the client stops sending is a client error, not a failure', async () => {
  const socket = net.connect(sluice.port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'POST /v1/track HTTP/1.1\r\nHost: sluice\r\nExpect: 100-continue\r\n' +
      `Authorization: Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}\r\n` +
      'Content-Length: 1000\r\n\r\n',
  );
  // Node answers 100 Continue as it hands the request to Sluice, which then reads the body.
  await eventually(() => expect(answer).toMatch(/^HTTP\/1\.1 100 /));
  socket.write('{"userId":');
  socket.destroy();
  await eventually(async () => expect(await requestsAnswered('single', '400')).toBe(1));
});

test('a request in flight when shutdown began is answered, and its kept-alive connection closed', async () => {
  // A deadline beyond the test's timeout: the stop must not wait for it.
  const stopping = await startTestSluice(database, {
    settings: { roles: ['gateway'], shutdownTimeoutMs: 600_000 },
  });
  const socket = net.connect(stopping.port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  const body = JSON.stringify({ userId: 'u1', event: 'Kept alive' });
  socket.write(
    'POST /v1/track HTTP/1.1\r\nHost: sluice\r\nExpect: 100-continue\r\n' +
      `Authorization: Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`,
  );
  await eventually(() => expect(answer).toMatch(/^HTTP\/1\.1 100 /));
  const stopped = stopping.stop();
  socket.write(body);
  await stopped;
  await closed;
  expect(answer).toMatch(/HTTP\/1\.1 200 /);
  const { rows } = await database.pool.query('SELECT payload FROM ingest_jobs');
  expect(rows.map((row) => JSON.parse(row.payload).event)).toEqual(['Kept alive']);
});

test('a request that arrives after shutdown began gets 503 SLUICE_E_SHUTTING_DOWN', async () => {
  const stopping = await startTestSluice(database, { settings: { roles: ['gateway'] } });
  const socket = net.connect(stopping.port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  const post = (event: string, headers = '') => {
    const body = JSON.stringify({ userId: 'u1', event });
    return (
      `POST /v1/track HTTP/1.1\r\nHost: sluice\r\n${headers}` +
      `Authorization: Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`
    );
  };
  // A request in flight when shutdown begins (its body not sent yet): it is answered as usual.
  const inFlight = post('In flight', 'Expect: 100-continue\r\n');
  const bodyAt = inFlight.indexOf('\r\n\r\n') + 4;
  socket.write(inFlight.slice(0, bodyAt));
  await eventually(() => expect(answer).toMatch(/^HTTP\/1\.1 100 /));
  const stopped = stopping.stop();
  // Its body, and behind it on the kept-alive connection a request that arrives after SIGTERM.
  socket.write(inFlight.slice(bodyAt) + post('Late'));
  await stopped;
  // The server closes the connection after the 503 (Connection: close); all of it has come then.
  await closed;
  const [, first, second] = answer.split(/(?=HTTP\/1\.1 )/);
  expect(first).toMatch(/^HTTP\/1\.1 200 /);
  expect(second).toMatch(/^HTTP\/1\.1 503 /);
  expect(second).toMatch(/\r\nRetry-After: \d+\r\n/i);
  expect(second).toMatch(/\r\nConnection: close\r\n/i);
  expect(second).toContain('"code":"SLUICE_E_SHUTTING_DOWN"');
  const { rows } = await database.pool.query('SELECT payload FROM ingest_jobs');
  expect(rows.map((row) => JSON.parse(row.payload).event)).toEqual(['In flight']);
});

/** Requests answered so far with `status` on a route kind (the metric every answer counts in). */
async function requestsAnswered(route: string, status: string): Promise<number> {
  const metric = await sluice.metrics.httpRequests.get();
  return (
    metric.values.find(
      (value) => value.labels.route === route && String(value.labels.status) === status,
    )?.value ?? 0
  );
}
