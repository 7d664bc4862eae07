import request from 'supertest';
import { storedEvents, storedJobs } from '../support/ingest';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let sluice: TestSluice;

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database);
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
});

const basic = (key: string, colon = true) =>
  `Basic ${Buffer.from(colon ? `${key}:` : key).toString('base64')}`;

const SINGLE_ROUTES: Array<[string, string, Record<string, unknown>]> = [
  ['identify', 'identify', { userId: 'u1', traits: { plan: 'pro' } }],
  ['track', 'track', { userId: 'u1', event: 'Signed Up' }],
  ['page', 'page', { anonymousId: 'a1', name: 'Home' }],
  ['screen', 'screen', { anonymousId: 'a1', name: 'Home' }],
  ['group', 'group', { userId: 'u1', groupId: 'g1' }],
  ['alias', 'alias', { previousId: 'a1', userId: 'u1' }],
  ['i', 'identify', { userId: 'u1' }],
  ['t', 'track', { userId: 'u1', event: 'Clicked' }],
  ['p', 'page', { userId: 'u1' }],
  ['s', 'screen', { userId: 'u1' }],
  ['g', 'group', { userId: 'u1', groupId: 'g1' }],
  ['a', 'alias', { previousId: 'a1', userId: 'u1' }],
];

describe('single-event routes', () => {
  test.each(SINGLE_ROUTES)('POST /v1/%s stores a %s event', async (path, type, body) => {
    const response = await request(sluice.url)
      .post(`/v1/${path}`)
      .set('Authorization', basic(WRITE_KEY))
      .send(body);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.body).toEqual({ success: true });
    const [event] = await storedEvents(database.pool);
    expect(event.type).toBe(type);
    expect(event).toMatchObject(body);
  });

  test.each([['/track'], ['/v1/track/'], ['/track/']])('%s works too', async (path) => {
    const response = await request(sluice.url)
      .post(path)
      .set('Authorization', basic(WRITE_KEY))
      .send({ userId: 'u1', event: 'E' });
    expect(response.status).toBe(200);
    expect(await storedEvents(database.pool)).toHaveLength(1);
  });

  test('the path decides the type, whatever the body says', async () => {
    await request(sluice.url)
      .post('/v1/t')
      .set('Authorization', basic(WRITE_KEY))
      .send({ type: 'identify', userId: 'u1', event: 'E' })
      .expect(200);
    expect((await storedEvents(database.pool))[0].type).toBe('track');
  });
});

describe('batch routes', () => {
  test.each([
    ['/v1/batch'],
    ['/v1/import'],
    ['/v1/import/'],
    ['/v1/b'],
    ['/batch'],
    ['/b'],
    ['/import'],
  ])('POST %s stores every event in order', async (path) => {
    const response = await request(sluice.url)
      .post(path)
      .set('Authorization', basic(WRITE_KEY))
      .send({
        batch: [
          { type: 'identify', userId: 'u1' },
          { type: 'track', userId: 'u1', event: 'First' },
          { type: 'track', userId: 'u1', event: 'Second' },
        ],
      });
    expect(response.status).toBe(200);
    const events = await storedEvents(database.pool);
    expect(events.map((e) => e.event ?? e.type)).toEqual(['identify', 'First', 'Second']);
  });

  test('beacon batch with the write key in the query', async () => {
    await request(sluice.url)
      .post(`/beacon/v1/batch?writeKey=${WRITE_KEY}`)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ batch: [{ type: 'page', anonymousId: 'a1' }], sentAt: new Date() }))
      .expect(200);
    expect(await storedEvents(database.pool)).toHaveLength(1);
  });

  test('an empty batch is accepted and stores nothing', async () => {
    await request(sluice.url)
      .post('/v1/batch')
      .set('Authorization', basic(WRITE_KEY))
      .send({ batch: [] })
      .expect(200, { success: true });
  });
});

describe('write key forms', () => {
  const event = { userId: 'u1', event: 'E' };
  test('Basic with the trailing colon', async () => {
    await request(sluice.url)
      .post('/v1/track')
      .set('Authorization', basic(WRITE_KEY))
      .send(event)
      .expect(200);
  });
  test('Basic without the colon', async () => {
    await request(sluice.url)
      .post('/v1/track')
      .set('Authorization', basic(WRITE_KEY, false))
      .send(event)
      .expect(200);
  });
  test('writeKey in the event body', async () => {
    await request(sluice.url)
      .post('/v1/track')
      .send({ ...event, writeKey: WRITE_KEY })
      .expect(200);
    const [stored] = await storedEvents(database.pool);
    expect(stored).not.toHaveProperty('writeKey');
  });
  test('writeKey at the batch level and in a batch item', async () => {
    await request(sluice.url)
      .post('/v1/batch')
      .send({ writeKey: WRITE_KEY, batch: [{ type: 'track', ...event }] })
      .expect(200);
    await request(sluice.url)
      .post('/v1/batch')
      .send({ batch: [{ type: 'track', ...event, writeKey: WRITE_KEY }] })
      .expect(200);
    expect(await storedEvents(database.pool)).toHaveLength(2);
  });
  test('?writeKey= in the query', async () => {
    await request(sluice.url).post(`/v1/track?writeKey=${WRITE_KEY}`).send(event).expect(200);
  });
  test('Bearer token plus writeKey in the body (OAuth form)', async () => {
    await request(sluice.url)
      .post('/v1/track')
      .set('Authorization', 'Bearer some-oauth-token')
      .send({ ...event, writeKey: WRITE_KEY })
      .expect(200);
  });

  test.each([
    ['no key', undefined, 'SLUICE_E_MISSING_WRITE_KEY'],
    ['an unknown key', 'not-a-key', 'SLUICE_E_UNKNOWN_WRITE_KEY'],
    ['a disabled source', 'disabled-write-key', 'SLUICE_E_SOURCE_DISABLED'],
  ])('%s gets 401 and nothing is stored', async (_name, key, code) => {
    const call = request(sluice.url).post('/v1/batch');
    if (key) call.set('Authorization', basic(key));
    const response = await call.send({ batch: [{ type: 'track', ...event }] });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ success: false, code });
    expect(response.body.message).toEqual(expect.any(String));
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });
});

describe('other SDK endpoints', () => {
  test('/v1/m accepts and ignores SDK telemetry', async () => {
    await request(sluice.url)
      .post('/v1/m')
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ series: [{ type: 'Counter', metric: 'x', value: 1, tags: {} }] }))
      .expect(200, { success: true });
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('pixel with base64 data answers a GIF and stores the event', async () => {
    const data = Buffer.from(
      JSON.stringify({ writeKey: WRITE_KEY, userId: 'u1', event: 'Email Opened' }),
    ).toString('base64');
    const response = await request(sluice.url).get(
      `/v1/pixel/track?data=${encodeURIComponent(data)}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('image/gif');
    expect(response.body.subarray(0, 6).toString()).toBe('GIF89a');
    const [event] = await storedEvents(database.pool);
    expect(event).toMatchObject({ type: 'track', userId: 'u1', event: 'Email Opened' });
  });

  test('pixel with flat query parameters and dotted properties', async () => {
    await request(sluice.url)
      .get(
        `/pixel/v1/page?writeKey=${WRITE_KEY}&anonymousId=a9&properties.title=Hi&properties.x.y=1`,
      )
      .expect(200);
    const [event] = await storedEvents(database.pool);
    expect(event).toMatchObject({
      type: 'page',
      anonymousId: 'a9',
      properties: { title: 'Hi', x: { y: '1' } },
    });
  });

  test('pixel with a bad key or bad data still answers the GIF and stores nothing', async () => {
    for (const path of [
      '/v1/pixel/track?writeKey=nope&userId=u&event=e',
      '/v1/pixel/track?data=%%%',
      '/v1/pixel/bogus',
    ]) {
      const response = await request(sluice.url).get(path);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('image/gif');
    }
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('health, readiness and metrics', async () => {
    await request(sluice.url).get('/health').expect(200, { status: 'ok' });
    await request(sluice.url).get('/ready').expect(200, { status: 'ready' });
    const metrics = await request(sluice.url).get('/metrics').expect(200);
    expect(metrics.text).toContain('sluice_gateway_requests_total');
  });

  test('unknown paths get a JSON 404', async () => {
    const response = await request(sluice.url).get('/v1/nothing-here');
    expect(response.status).toBe(404);
    expect(response.body.code).toBe('SLUICE_E_NOT_FOUND');
  });
});
