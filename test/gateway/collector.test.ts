/** Collector behaviour: deduplication, group commit, privacy settings, rate limits, CORS, SDK config. */
import { readdirSync } from 'node:fs';
import request from 'supertest';
import { storedEvents, storedJobs } from '../support/ingest';
import { BASIC_WORKSPACE, startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let sluice: TestSluice;

const WORKSPACE = `${BASIC_WORKSPACE}
  - id: private
    writeKey: private-write-key
    anonymizeIp: true
    dropDoNotTrack: true
  - id: limited
    writeKey: limited-write-key
    rateLimit: { eventsPerSecond: 5, burst: 10 }
  - id: slow
    writeKey: slow-write-key
    rateLimit: { eventsPerSecond: 0.1, burst: 10 }
  - id: slow-too
    writeKey: slow-too-write-key
    rateLimit: { eventsPerSecond: 0.1, burst: 10 }
`;

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database, { workspace: WORKSPACE });
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
});

const track = (key: string, body: Record<string, unknown>) =>
  request(sluice.url)
    .post('/v1/track')
    .auth(key, '')
    .send({ userId: 'u1', event: 'E', ...body });

describe('repeated messageIds', () => {
  test('the same messageId twice in one batch is stored once', async () => {
    const event = { type: 'track', userId: 'u1', event: 'E', messageId: 'same' };
    await request(sluice.url)
      .post('/v1/batch')
      .auth(WRITE_KEY, '')
      .send({ batch: [event, event] })
      .expect(200);
    expect(await storedJobs(database.pool)).toHaveLength(1);
  });
  // Retries across requests are dropped when the processor hands events on: see
  // test/processor/dedup.test.ts.
});

describe('group commit', () => {
  test('200 concurrent requests are all stored, in fewer writes than requests', async () => {
    const before = await writeCount();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        track(WRITE_KEY, { userId: `user-${i}`, messageId: `gc-${i}` }).expect(200),
      ),
    );
    const jobs = await storedJobs(database.pool);
    expect(jobs).toHaveLength(200);
    expect(new Set(jobs.map((job) => job.messageId)).size).toBe(200);
    expect((await writeCount()) - before).toBeLessThan(200);
  });

  test('a user’s events keep their order across sequential requests', async () => {
    for (let i = 0; i < 20; i++) await track(WRITE_KEY, { event: `step-${i}` }).expect(200);
    expect((await storedEvents(database.pool)).map((e) => e.event)).toEqual(
      Array.from({ length: 20 }, (_, i) => `step-${i}`),
    );
  });

  async function writeCount(): Promise<number> {
    const metric = await sluice.metrics.ingestWriteRows.get();
    return (
      metric.values.find((value) => value.metricName === 'sluice_ingest_write_rows_count')?.value ??
      0
    );
  }
});

describe('privacy settings', () => {
  test('anonymizeIp zeroes the last octet of the client address', async () => {
    await track('private-write-key', {}).set('X-Forwarded-For', '198.51.100.23').expect(200);
    const [event] = await storedEvents(database.pool);
    // The test client is on loopback, a trusted proxy by default, so X-Forwarded-For counts.
    expect(event.context?.ip).toBe('198.51.100.0');
  });

  test.each([
    ['an address with a port', '203.0.113.77:5555', '203.0.113.0'],
    ['a bracketed IPv6 address with a port', '[2001:db8::1]:443', '2001:db8::'],
    ['a bracketed IPv6 address', '[2001:db8:abcd:12::1]', '2001:db8:abcd::'],
    ['an address with leading zeros', '203.0.113.077', undefined],
    ['no address', 'unknown', undefined],
  ])('anonymizeIp, X-Forwarded-For with %s (%s): stores %j', async (_name, header, stored) => {
    await track('private-write-key', {}).set('X-Forwarded-For', header).expect(200);
    const [event] = await storedEvents(database.pool);
    expect(event.context).toEqual(stored === undefined ? {} : { ip: stored });
  });

  test.each([
    ['203.0.113.77:5555', '203.0.113.0'],
    ['[2001:db8:abcd:12::1]:443', '2001:db8:abcd::'],
    ['203.0.113.077', undefined],
    ['203.0.113.77, 198.51.100.1', undefined],
    [3405803853, undefined],
    [{ address: '203.0.113.77' }, undefined],
  ])('anonymizeIp, context.ip %j in the event: stores %j', async (ip, stored) => {
    await track('private-write-key', { context: { ip } }).expect(200);
    const [event] = await storedEvents(database.pool);
    expect(event.context).toEqual(stored === undefined ? {} : { ip: stored });
  });

  test('without anonymizeIp an address with a port is stored without it', async () => {
    await track(WRITE_KEY, {}).set('X-Forwarded-For', '203.0.113.77:5555').expect(200);
    await track(WRITE_KEY, {}).set('X-Forwarded-For', '[2001:db8::1]:443').expect(200);
    const events = await storedEvents(database.pool);
    expect(events.map((event) => event.context?.ip)).toEqual(['203.0.113.77', '2001:db8::1']);
  });

  test.each([
    ['DNT', '1'],
    ['Sec-GPC', '1'],
  ])('%s: 1 is answered 200 and nothing is stored', async (header, value) => {
    await track('private-write-key', {}).set(header, value).expect(200, { success: true });
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('sources without dropDoNotTrack store DNT requests', async () => {
    await track(WRITE_KEY, {}).set('DNT', '1').expect(200);
    expect(await storedJobs(database.pool)).toHaveLength(1);
  });

  test('context.ip comes from the connection without a proxy header', async () => {
    await track(WRITE_KEY, {}).expect(200);
    expect((await storedEvents(database.pool))[0].context?.ip).toBe('127.0.0.1');
  });
});

describe('rate limits', () => {
  test('a source over its rate gets 429 with Retry-After; other sources are unaffected', async () => {
    const batch = (n: number) =>
      request(sluice.url)
        .post('/v1/batch')
        .auth('limited-write-key', '')
        .send({
          batch: Array.from({ length: n }, () => ({ type: 'track', userId: 'u', event: 'E' })),
        });
    await batch(10).expect(200);
    const limited = await batch(5);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('SLUICE_E_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.headers['x-ratelimit-reset']).toBeDefined();
    await track(WRITE_KEY, {}).expect(200);
    expect(await storedJobs(database.pool)).toHaveLength(11);
  });
});

describe('rate limits: what counts', () => {
  // 0.1 events per second: the 10-event burst takes 100 s to refill, far longer than a test.
  const batch = (key: string, events: Array<Record<string, unknown>>) =>
    request(sluice.url).post('/v1/batch').auth(key, '').send({ batch: events });
  const valid = (n: number) =>
    Array.from({ length: n }, () => ({ type: 'track', userId: 'u', event: 'E' }));

  test('rejected events use no tokens', async () => {
    const rejected = Array.from({ length: 9 }, () => ({ type: 'track', userId: 'u' }));
    const first = await batch('slow-write-key', [...rejected, ...valid(1)]).expect(200);
    expect(first.body.rejected).toHaveLength(9);
    // Nine of the ten tokens are left.
    await batch('slow-write-key', valid(9)).expect(200);
    const limited = await batch('slow-write-key', valid(1));
    expect(limited.status).toBe(429);
  });

  test('a batch larger than the burst leaves a wait of at most the burst’s refill time', async () => {
    await batch('slow-too-write-key', valid(2500)).expect(200);
    const limited = await batch('slow-too-write-key', valid(10));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(100);
  });
});

describe('CORS', () => {
  test('a preflight reflects the origin and allows the requested headers, Authorization included', async () => {
    const response = await request(sluice.url)
      .options('/v1/t')
      .set('Origin', 'https://shop.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type,x-retry-count');
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers['access-control-allow-headers']).toBe(
      'authorization,content-type,x-retry-count',
    );
    expect(Number(response.headers['access-control-max-age'])).toBeGreaterThanOrEqual(3600);
  });

  test('responses carry the origin too', async () => {
    const response = await track(WRITE_KEY, {}).set('Origin', 'https://shop.example');
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers.vary).toContain('Origin');
  });

  const pixelData = Buffer.from(JSON.stringify({ userId: 'u1', event: 'Seen' })).toString('base64');
  test.each([
    ['/v1/batch', 'POST'],
    ['/v1/m', 'POST'],
    [`/v1/projects/${WRITE_KEY}/settings`, 'GET'],
    [`/projects/${WRITE_KEY}/settings`, 'GET'],
    [`/sourceConfig?writeKey=${WRITE_KEY}`, 'GET'],
    [`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`, 'GET'],
    [`/v1/pixel/track?writeKey=${WRITE_KEY}&data=${encodeURIComponent(pixelData)}`, 'GET'],
  ])('the SDK route %s answers preflights and %s requests with CORS', async (path, method) => {
    const preflight = await request(sluice.url)
      .options(path)
      .set('Origin', 'https://shop.example')
      .set('Access-Control-Request-Method', method)
      .set('Access-Control-Request-Headers', 'authorization');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://shop.example');
    const call = method === 'GET' ? request(sluice.url).get(path) : request(sluice.url).post(path);
    const response = await call.set('Origin', 'https://shop.example').auth(WRITE_KEY, '');
    expect(response.status).toBeLessThan(500);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
  });

  test('SDK routes say Vary: Origin even to a request without one (shared caches)', async () => {
    const response = await request(sluice.url)
      .get(`/v1/projects/${WRITE_KEY}/settings`)
      .expect(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers.vary).toMatch(/\bOrigin\b/);
  });

  test.each(['/health', '/ready', '/metrics', '/v1/nothing-here'])(
    '%s answers no CORS, and its preflight is refused',
    async (path) => {
      const preflight = await request(sluice.url)
        .options(path)
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'GET');
      expect(preflight.status).toBeGreaterThanOrEqual(400);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const response = await request(sluice.url).get(path).set('Origin', 'https://evil.example');
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    },
  );
});

describe('SDK configuration endpoints', () => {
  test('Segment settings point the SDK back at this Sluice, with metrics off', async () => {
    for (const path of [`/v1/projects/${WRITE_KEY}/settings`, `/projects/${WRITE_KEY}/settings`]) {
      const response = await request(sluice.url)
        .get(path)
        .set('Origin', 'https://shop.example')
        .expect(200);
      const host = new URL(sluice.url).host;
      expect(response.body.integrations['Segment.io']).toMatchObject({
        apiKey: WRITE_KEY,
        apiHost: `${host}/v1`,
        protocol: 'http',
      });
      expect(Object.keys(response.body.integrations)).toEqual(['Segment.io']);
      expect(response.body.metrics.sampleRate).toBe(0);
      expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    }
  });

  test('settings honour X-Forwarded-Proto from a trusted proxy', async () => {
    const response = await request(sluice.url)
      .get(`/v1/projects/${WRITE_KEY}/settings`)
      .set('X-Forwarded-Proto', 'https')
      .expect(200);
    expect(response.body.integrations['Segment.io'].protocol).toBe('https');
  });

  test('without SLUICE_PUBLIC_URL, bodies built from the Host header vary by Host', async () => {
    const settings = await request(sluice.url)
      .get(`/v1/projects/${WRITE_KEY}/settings`)
      .set('Host', 'other.example')
      .expect(200);
    expect(settings.body.integrations['Segment.io'].apiHost).toBe('other.example/v1');
    expect(settings.headers['cache-control']).toMatch(/public/);
    expect(settings.headers.vary).toMatch(/\bHost\b/);
    const bundle = await request(sluice.url)
      .get(`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`)
      .set('Host', 'other.example')
      .expect(200);
    expect(bundle.text).toContain('other.example');
    expect(bundle.headers.vary).toMatch(/\bHost\b/);
  });

  test.each(['evil.example/path', 'user@evil.example', 'evil example', 'evil.example?x=1'])(
    'a Host header that is not a host name (%j) gets 400',
    async (host) => {
      const response = await request(sluice.url)
        .get(`/v1/projects/${WRITE_KEY}/settings`)
        .set('Host', host);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('SLUICE_E_INVALID_REQUEST');
    },
  );

  test('with SLUICE_PUBLIC_URL, the Host header does not matter', async () => {
    const pinned = await startTestSluice(database, {
      workspace: WORKSPACE,
      settings: { publicUrl: 'https://collector.example.com', roles: ['gateway'] },
    });
    try {
      const settings = await request(pinned.url)
        .get(`/v1/projects/${WRITE_KEY}/settings`)
        .set('Host', 'evil.example')
        .expect(200);
      expect(settings.body.integrations['Segment.io']).toMatchObject({
        apiHost: 'collector.example.com/v1',
        protocol: 'https',
      });
      expect(settings.headers.vary).not.toMatch(/\bHost\b/);
      const bundle = await request(pinned.url)
        .get(`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`)
        .set('Host', 'evil.example')
        .expect(200);
      expect(bundle.text).toContain('https://collector.example.com');
      expect(bundle.text).not.toContain('evil.example');
      expect(bundle.headers.vary).not.toMatch(/\bHost\b/);
    } finally {
      await pinned.stop();
    }
  });

  test('settings for an unknown or disabled write key are 404', async () => {
    await request(sluice.url).get('/v1/projects/nope/settings').expect(404);
    await request(sluice.url).get('/v1/projects/disabled-write-key/settings').expect(404);
  });

  test('RudderStack sourceConfig, by query or Basic auth', async () => {
    const byQuery = await request(sluice.url)
      .get(`/sourceConfig/?p=npm&v=3.0.0&writeKey=${WRITE_KEY}`)
      .expect(200);
    expect(byQuery.body.source).toMatchObject({
      id: 'web',
      writeKey: WRITE_KEY,
      enabled: true,
      destinations: [],
    });
    const byAuth = await request(sluice.url).get('/sourceConfig').auth(WRITE_KEY, '').expect(200);
    expect(byAuth.body.source.id).toBe('web');
    await request(sluice.url).get('/sourceConfig?writeKey=nope').expect(401);
  });

  test('analytics.js is served with the write key and this host filled in', async () => {
    const response = await request(sluice.url)
      .get(`/analytics.js/v1/${WRITE_KEY}/analytics.min.js`)
      .expect(200);
    expect(response.headers['content-type']).toMatch(/javascript/);
    expect(response.text).toContain(`"${WRITE_KEY}"`);
    expect(response.text).not.toContain('__WRITE_KEY__');
    expect(response.text).not.toContain('https://cdn.segment.com');
    expect(response.text).toContain(new URL(sluice.url).origin);
  });

  test('analytics.js chunks are served; paths outside the bundle folder are not', async () => {
    const folder = require
      .resolve('@segment/analytics-next/package.json')
      .replace('package.json', 'dist/umd');
    const name = readdirSync(folder).find((file) => /\.bundle\.[0-9a-f]+\.js$/.test(file))!;
    expect(name).toBeDefined();
    await request(sluice.url).get(`/analytics-next/bundles/${name}`).expect(200);
    await request(sluice.url).get('/analytics-next/bundles/..%2F..%2Fpackage.json').expect(404);
    await request(sluice.url).get('/analytics.js/v1/nope/analytics.min.js').expect(404);
  });
});

describe('workspace changes', () => {
  test('a source added to the workspace file works without a restart', async () => {
    await track('brand-new-key', {}).expect(401);
    sluice.setWorkspace(`${WORKSPACE}\n  - id: added\n    writeKey: brand-new-key\n`);
    await track('brand-new-key', {}).expect(200);
    sluice.setWorkspace(WORKSPACE);
  });
});
