/**
 * The whole pipeline in one running Sluice: an SDK sends to the gateway, the processor runs the
 * connection's transformation, the router delivers to a local server playing the webhook's
 * receiver; failures land in the admin API's failed events and dead letters and are replayed
 * from there.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Analytics } from '@segment/analytics-node';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestSluice, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { startVendor, type VendorServer } from '../support/vendor-server';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
let database: TestDatabase;
let vendor: VendorServer;
let sluice: TestSluice;

const TRANSFORMATION = `
export function transformEvent(event, metadata) {
  if (event.properties?.explode) throw new Error('cannot handle ' + event.event);
  log('forwarding', event.event);
  return { ...event, properties: { ...event.properties, via: metadata.destinationId } };
}
`;

function workspaceYaml(url: string) {
  return `
sources:
  - { id: api, writeKey: pipeline-write-key }
destinations:
  - id: hook
    type: webhook
    config: { url: "${url}/events", batchSize: 10 }
    delivery: { maxAttempts: 2, timeoutMs: 2000 }
transformations:
  - { id: tag, file: tag.js }
connections:
  - { source: api, destination: hook, transformations: [tag] }
`;
}

beforeAll(async () => {
  database = await createTestDatabase();
  vendor = await startVendor();
  sluice = await startTestSluice(database, {
    workspace: workspaceYaml(vendor.url),
    settings: { adminToken: ADMIN_TOKEN },
  });
  // The transformation file sits next to the workspace file (read when events arrive).
  writeFileSync(path.join(path.dirname(sluice.workspaceFile), 'tag.js'), TRANSFORMATION);
});
afterAll(async () => {
  await sluice?.stop();
  await vendor?.close();
  await database?.drop();
});

const admin = () => ({ Authorization: `Bearer ${ADMIN_TOKEN}` });
const received = () =>
  vendor.requests.flatMap(
    (r) =>
      JSON.parse(r.body) as Array<{
        event: string;
        userId: string;
        properties: Record<string, unknown>;
      }>,
  );

test('events from an SDK reach the destination transformed, in order per user', async () => {
  const analytics = new Analytics({
    writeKey: 'pipeline-write-key',
    host: sluice.url,
    flushAt: 20,
    flushInterval: 50,
  });
  for (let i = 0; i < 30; i++) analytics.track({ userId: `user-${i % 3}`, event: `Step ${i}` });
  await analytics.closeAndFlush({ timeout: 10_000 });
  await eventually(() => expect(received()).toHaveLength(30), 15_000);
  for (const event of received()) expect(event.properties.via).toBe('hook');
  for (let user = 0; user < 3; user++) {
    const steps = received()
      .filter((e) => e.userId === `user-${user}`)
      .map((e) => Number(e.event.split(' ')[1]));
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
  }
});

test('a transformation failure shows in the admin API and is replayed once the code is fixed', async () => {
  await request(sluice.url)
    .post('/v1/track')
    .auth('pipeline-write-key', '')
    .send({ userId: 'u-x', event: 'Boom', properties: { explode: true } })
    .expect(200);
  const failed = await eventually(async () => {
    const response = await request(sluice.url).get('/admin/failed-events').set(admin()).expect(200);
    expect(response.body.failedEvents).toHaveLength(1);
    return response.body.failedEvents[0];
  });
  expect(failed).toMatchObject({
    transformationId: 'tag',
    error: 'cannot handle Boom',
    destinationId: 'hook',
  });
  expect(failed.stack).toMatch(/tag\.js:3/);

  writeFileSync(
    path.join(path.dirname(sluice.workspaceFile), 'tag.js'),
    TRANSFORMATION.replace(
      "throw new Error('cannot handle ' + event.event)",
      "event.event = 'Fixed'",
    ),
  );
  const replay = await request(sluice.url)
    .post('/admin/failed-events/replay')
    .set(admin())
    .send({ destinationId: 'hook' })
    .expect(200);
  expect(replay.body).toEqual({ replayed: 1, failedAgain: 0, skipped: 0 });
  await eventually(() =>
    expect(received().some((e) => e.event === 'Fixed' && e.userId === 'u-x')).toBe(true),
  );
});

test('a delivery the destination refuses is dead-lettered and resent from the admin API', async () => {
  vendor.script = () => ({ status: 422, body: '{"error":"unprocessable"}' });
  await request(sluice.url)
    .post('/v1/track')
    .auth('pipeline-write-key', '')
    .send({ userId: 'u-d', event: 'Refused' })
    .expect(200);
  const letters = await eventually(async () => {
    const response = await request(sluice.url)
      .get('/admin/dead-letters?destination=hook')
      .set(admin())
      .expect(200);
    expect(response.body.deadLetters).toHaveLength(1);
    return response.body.deadLetters;
  });
  expect(letters[0].reason).toMatch(/HTTP 422/);
  const queues = await request(sluice.url).get('/admin/queues').set(admin()).expect(200);
  expect(queues.body.deadLetters).toEqual([{ destination_id: 'hook', dead_letters: 1 }]);

  vendor.script = () => ({ status: 200 });
  const replay = await request(sluice.url)
    .post('/admin/dead-letters/replay')
    .set(admin())
    .send({ ids: [letters[0].id] })
    .expect(200);
  expect(replay.body).toEqual({ replayed: 1 });
  await eventually(() => expect(received().some((e) => e.event === 'Refused')).toBe(true));
});

test('the admin API tests a transformation on sample events, by id or inline code', async () => {
  const byId = await request(sluice.url)
    .post('/admin/transformations/test')
    .set(admin())
    .send({
      transformationId: 'tag',
      events: [{ type: 'track', userId: 'u', event: 'Try', messageId: 'm1' }],
    })
    .expect(200);
  expect(byId.body.events[0]).toMatchObject({ event: 'Try' });
  expect(byId.body.logs[0]).toMatchObject({ message: 'forwarding Try' });
  expect(byId.body.errors).toEqual([]);
  const inline = await request(sluice.url)
    .post('/admin/transformations/test')
    .set(admin())
    .send({
      code: 'export function transformEvent(e) { throw new Error("nope") }',
      events: [{ type: 'track', event: 'X' }],
    })
    .expect(200);
  expect(inline.body.errors[0]).toMatchObject({ eventIndex: 0, message: 'nope' });
});

test('the admin API needs the token, and names bad fields', async () => {
  await request(sluice.url).get('/admin/queues').expect(401);
  await request(sluice.url).get('/admin/queues').set('Authorization', 'Bearer wrong').expect(401);
  const bad = await request(sluice.url)
    .post('/admin/dead-letters/replay')
    .set(admin())
    .send({ ids: ['one'] });
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({
    code: 'SLUICE_E_INVALID_REQUEST',
    message: expect.stringMatching(/ids\.0/),
  });
});

test('what PostgreSQL text cannot hold reaches the destination exactly; ids holding it are refused', async () => {
  const body = String.raw`{"userId": "u-nul", "event": "nul\u0000 lone\ud800",
                           "properties": {"k\u0000ey": "\udc00", "list": ["\u0000"]}}`;
  const send = (text: string) =>
    request(sluice.url)
      .post('/v1/track')
      .auth('pipeline-write-key', '')
      .set('Content-Type', 'text/plain')
      .send(text);
  await send(body).expect(200);
  const refused = await send(String.raw`{"userId": "nul\u0000user", "event": "Refused id"}`);
  expect(refused.status).toBe(400);
  expect(refused.body.message).toContain('"userId"');
  const sent = JSON.parse(body);
  await eventually(() =>
    expect(received().find((e) => e.userId === 'u-nul')).toEqual(
      expect.objectContaining({
        event: sent.event,
        properties: { ...sent.properties, via: 'hook' },
      }),
    ),
  );
  expect(received().some((e) => e.event === 'Refused id')).toBe(false);
});
