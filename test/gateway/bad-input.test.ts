/**
 * Limits and hostile input: every bad request gets a clear 4xx naming the problem, nothing of it
 * is stored, and the process keeps serving.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import request from 'supertest';
import { storedEvents, storedJobs } from '../support/ingest';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let sluice: TestSluice;
const MAX_EVENT = 32 * 1024;
const MAX_BATCH = 500 * 1024;
const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

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
afterEach(async () => {
  // Whatever the test sent, the server is still up.
  await request(sluice.url).get('/health').expect(200);
});

/** A JSON text of exactly `bytes` bytes: the given object padded in properties.pad. */
function sized(bytes: number, base: Record<string, unknown>): string {
  const empty = JSON.stringify({ ...base, properties: { pad: '' } });
  return JSON.stringify({ ...base, properties: { pad: 'x'.repeat(bytes - empty.length) } });
}

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return request(sluice.url)
    .post(path)
    .set('Authorization', auth)
    .set('Content-Type', 'text/plain')
    .set(headers)
    .send(body);
}

describe('size limits', () => {
  test('a single event of exactly 32 KB is accepted', async () => {
    const body = sized(MAX_EVENT, { userId: 'u1', event: 'Big' });
    expect(Buffer.byteLength(body)).toBe(MAX_EVENT);
    await post('/v1/track', body).expect(200);
    expect(await storedEvents(database.pool)).toHaveLength(1);
  });

  test('a single event one byte over 32 KB gets 413', async () => {
    const response = await post('/v1/track', sized(MAX_EVENT + 1, { userId: 'u1', event: 'Big' }));
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('SLUICE_E_BODY_TOO_LARGE');
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('a batch of exactly 500 KB is accepted; one byte more gets 413', async () => {
    const event = JSON.parse(sized(20_000, { type: 'track', userId: 'u1', event: 'E' }));
    const batch = { batch: Array.from({ length: 25 }, () => event), pad: '' };
    const fill = MAX_BATCH - Buffer.byteLength(JSON.stringify(batch));
    batch.pad = 'y'.repeat(fill);
    const atLimit = JSON.stringify(batch);
    expect(Buffer.byteLength(atLimit)).toBe(MAX_BATCH);
    await post('/v1/batch', atLimit).expect(200);
    expect(await storedEvents(database.pool)).toHaveLength(25);

    batch.pad += 'y';
    const response = await post('/v1/batch', JSON.stringify(batch));
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('SLUICE_E_BODY_TOO_LARGE');
  });

  test('inside a batch, an event over 32 KB is rejected and the others are stored', async () => {
    const ok = JSON.parse(
      sized(MAX_EVENT, { type: 'track', userId: 'u1', event: 'Fits', messageId: 'm-fits' }),
    );
    const big = JSON.parse(
      sized(MAX_EVENT + 1, { type: 'track', userId: 'u1', event: 'Big', messageId: 'm-big' }),
    );
    const response = await post('/v1/batch', JSON.stringify({ batch: [ok, big] }));
    expect(response.status).toBe(200);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({ index: 1, messageId: 'm-big', code: 'SLUICE_E_EVENT_TOO_LARGE' }),
    ]);
    expect((await storedEvents(database.pool)).map((e) => e.event)).toEqual(['Fits']);
  });

  test('inside a batch, an event nested deeper than the limit is rejected and the others are stored', async () => {
    const deep = `{"type":"track","userId":"u1","event":"Deep","messageId":"m-deep","properties":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const fits = JSON.stringify({ type: 'track', userId: 'u1', event: 'Fits' });
    const response = await post('/v1/batch', `{"batch":[${fits},${deep},${fits}]}`);
    expect(response.status).toBe(200);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({ index: 1, messageId: 'm-deep', code: 'SLUICE_E_TOO_DEEP' }),
    ]);
    expect((await storedEvents(database.pool)).map((e) => e.event)).toEqual(['Fits', 'Fits']);
    // Outside the batch's events, nesting past the limit still refuses the body.
    const deepContext = `{"context":${'['.repeat(5000)}${']'.repeat(5000)},"batch":[${fits}]}`;
    expect((await post('/v1/batch', deepContext)).body.code).toBe('SLUICE_E_TOO_DEEP');
  });

  describe('a top-level key given twice (JSON.parse keeps the last)', () => {
    const small = JSON.stringify({ type: 'track', userId: 'u1', event: 'Small' });
    const big = sized(200 * 1024, { type: 'track', userId: 'u1', event: 'Big' });
    test.each([
      ['"batch" twice', `{"batch":[${small}],"batch":[${big}]}`],
      ['"batch" twice, the first longer', `{"batch":[${small},${small}],"batch":[${big}]}`],
      ['"batch" spelled with an escape', `{"batch":[${small},${small}],"b\\u0061tch":[${big}]}`],
      [
        '"context" twice',
        `{"context":{},"batch":[${small}],"context":{"pad":${JSON.stringify('c'.repeat(40_000))}}}`,
      ],
    ])('%s: the body is refused and nothing stored', async (_name, body) => {
      const response = await post('/v1/batch', body);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('SLUICE_E_INVALID_JSON');
      expect(response.body.message).toMatch(/appears twice/);
      expect(await storedJobs(database.pool)).toHaveLength(0);
    });
  });

  test('an event is measured with the batch-level context and integrations it inherits', async () => {
    const body = JSON.stringify({
      context: { pad: 'c'.repeat(20_000) },
      integrations: { pad: 'i'.repeat(10_000) },
      batch: [
        { type: 'track', userId: 'u1', event: 'Fits' },
        JSON.parse(sized(4_000, { type: 'track', userId: 'u1', event: 'Big', messageId: 'm-big' })),
      ],
    });
    const response = await post('/v1/batch', body);
    expect(response.status).toBe(200);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({ index: 1, messageId: 'm-big', code: 'SLUICE_E_EVENT_TOO_LARGE' }),
    ]);
    const stored = await storedJobs(database.pool);
    expect(stored.map((job) => job.event.event)).toEqual(['Fits']);
    const { rows } = await database.pool.query(
      'SELECT octet_length(payload) AS bytes FROM ingest_jobs',
    );
    expect(rows[0].bytes).toBeLessThanOrEqual(MAX_EVENT + 1024);
  });

  test('a batch with more events than the limit gets 413', async () => {
    const batch = Array.from({ length: 2501 }, (_, i) => ({
      type: 'track',
      userId: 'u',
      event: 'e',
      messageId: `${i}`,
    }));
    const response = await post('/v1/batch', JSON.stringify({ batch }));
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('SLUICE_E_TOO_MANY_EVENTS');
  });

  test('a huge body is refused without reading it all (Content-Length)', async () => {
    const response = await rawPost(
      '/v1/batch',
      { 'content-length': String(50 * 1024 * 1024) },
      'x'.repeat(1000),
    );
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).code).toBe('SLUICE_E_BODY_TOO_LARGE');
  });

  test('a huge chunked body is cut off at the limit', async () => {
    const response = await rawPost(
      '/v1/batch',
      { 'transfer-encoding': 'chunked' },
      'x'.repeat(2 * MAX_BATCH),
    );
    expect(response.status).toBe(413);
  });
});

describe('the pixel', () => {
  test('nested deeper than the limit, in data= or dotted names, is not stored', async () => {
    const deep = JSON.stringify({ writeKey: WRITE_KEY, userId: 'u1', event: 'Deep' }).replace(
      /}$/,
      `,"properties":${'['.repeat(100)}${']'.repeat(100)}}`,
    );
    const data = encodeURIComponent(Buffer.from(deep).toString('base64'));
    const dotted = `${'a.'.repeat(100)}b=1`;
    for (const path of [
      `/v1/pixel/track?data=${data}`,
      `/v1/pixel/track?writeKey=${WRITE_KEY}&userId=u1&event=Deep&${dotted}`,
    ]) {
      const response = await request(sluice.url).get(path);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('image/gif');
    }
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('nested up to the limit is stored', async () => {
    const dotted = `properties.${'a.'.repeat(60)}b=1`;
    await request(sluice.url)
      .get(`/v1/pixel/track?writeKey=${WRITE_KEY}&userId=u1&event=Shallow&${dotted}`)
      .expect(200);
    expect((await storedEvents(database.pool)).map((event) => event.event)).toEqual(['Shallow']);
  });
});

describe('gzip', () => {
  test('a gzip body is decompressed', async () => {
    const body = zlib.gzipSync(
      JSON.stringify({ batch: [{ type: 'track', userId: 'u1', event: 'Zipped' }] }),
    );
    await post('/v1/batch', body, { 'Content-Encoding': 'gzip' }).expect(200);
    expect((await storedEvents(database.pool))[0].event).toBe('Zipped');
  });

  test('the limit applies to the decompressed size', async () => {
    const event = sized(MAX_EVENT + 1, { userId: 'u1', event: 'Big' });
    const response = await post('/v1/track', zlib.gzipSync(event), { 'Content-Encoding': 'gzip' });
    expect(response.status).toBe(413);
  });

  test('a gzip bomb (1 GB of zeros in 1 MB) is refused with 413', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });
    const before = process.memoryUsage().rss;
    const response = await post('/v1/batch', bomb, { 'Content-Encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  test('a corrupt gzip body gets 400', async () => {
    const response = await post('/v1/batch', Buffer.from('definitely not gzip'), {
      'Content-Encoding': 'gzip',
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_GZIP');
  });

  test('an unknown encoding gets 415', async () => {
    const response = await post('/v1/batch', '{}', { 'Content-Encoding': 'br' });
    expect(response.status).toBe(415);
    expect(response.body.code).toBe('SLUICE_E_UNSUPPORTED_ENCODING');
  });
});

describe('malformed bodies', () => {
  test.each([
    ['invalid JSON', '{"userId": "u1", "event": ', 'SLUICE_E_INVALID_JSON'],
    ['an empty body', '', 'SLUICE_E_INVALID_JSON'],
    ['a JSON array', '[1,2]', 'SLUICE_E_INVALID_EVENT'],
    ['a JSON string', '"hello"', 'SLUICE_E_INVALID_EVENT'],
    [
      'deeply nested JSON',
      `{"userId":"u","event":"e","properties":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      'SLUICE_E_TOO_DEEP',
    ],
  ])('%s gets 400', async (_name, body, code) => {
    const response = await post('/v1/track', body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ success: false, code });
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('invalid UTF-8 gets 400', async () => {
    const body = Buffer.concat([
      Buffer.from('{"userId":"u1","event":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]);
    const response = await post('/v1/track', body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_UTF8');
  });

  test('JSON nested up to the limit is accepted', async () => {
    let nested: unknown = 1;
    for (let i = 0; i < 60; i++) nested = { n: nested };
    await post('/v1/track', JSON.stringify({ userId: 'u', event: 'e', properties: nested })).expect(
      200,
    );
  });

  test.each([
    ['a track without event', { userId: 'u1' }, /"event"/],
    ['a track without any identity', { event: 'E' }, /"userId" or "anonymousId"/],
    ['a userId that is an object', { userId: { id: 1 }, event: 'E' }, /"userId" must be a string/],
    [
      'properties that are a string',
      { userId: 'u1', event: 'E', properties: 'x' },
      /"properties" must be an object/,
    ],
    [
      'a context that is an array',
      { userId: 'u1', event: 'E', context: [] },
      /"context" must be an object/,
    ],
    [
      'a timestamp that is not a date',
      { userId: 'u1', event: 'E', timestamp: 'yesterday' },
      /"timestamp"/,
    ],
    [
      'a messageId over 100 characters',
      { userId: 'u1', event: 'E', messageId: 'm'.repeat(101) },
      /100 characters/,
    ],
    [
      'a messageId with control characters',
      { userId: 'u1', event: 'E', messageId: 'a\u0000b' },
      /printable/,
    ],
  ])('%s gets 400 naming the field', async (_name, body, message) => {
    const response = await post('/v1/track', JSON.stringify(body));
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_EVENT');
    expect(response.body.message).toMatch(message);
  });

  test.each([
    ['group without groupId', '/v1/group', { userId: 'u1' }],
    ['alias without previousId', '/v1/alias', { userId: 'u1' }],
    ['alias without userId', '/v1/alias', { previousId: 'a1' }],
  ])('%s gets 400', async (_name, path, body) => {
    await post(path, JSON.stringify(body)).expect(400);
  });

  test('a batch that is not an array gets 400', async () => {
    const response = await post('/v1/batch', JSON.stringify({ batch: { type: 'track' } }));
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_BATCH');
  });

  test('bad events in a batch do not cost the good ones', async () => {
    const response = await post(
      '/v1/batch',
      JSON.stringify({
        batch: [
          { type: 'track', userId: 'u1', event: 'Good 1' },
          { type: 'track', userId: 'u1' },
          'not an object',
          { type: 'explode', userId: 'u1' },
          { userId: 'u1', event: 'no type' },
          { type: 'track', userId: 'u1', event: 'Good 2' },
        ],
      }),
    );
    expect(response.status).toBe(200);
    expect(response.body.success).toBe(true);
    expect(response.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2, 3, 4]);
    expect((await storedEvents(database.pool)).map((e) => e.event)).toEqual(['Good 1', 'Good 2']);
  });

  test('a batch where every event is bad gets 400', async () => {
    const response = await post('/v1/batch', JSON.stringify({ batch: [{ type: 'track' }] }));
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_BATCH');
    expect(response.body.message).toMatch(/every event was rejected/);
  });

  test('numbers as ids are accepted as strings; null fields count as absent', async () => {
    await post(
      '/v1/track',
      JSON.stringify({ userId: 42, anonymousId: null, event: 'E', context: null, messageId: 7 }),
    ).expect(200);
    const [event] = await storedEvents(database.pool);
    expect(event.userId).toBe('42');
    expect(event.messageId).toBe('7');
    expect(event).not.toHaveProperty('anonymousId');
  });
});

/** Posts with Node's http client, for bodies and headers supertest would not send. */
function rawPost(
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, sluice.url);
    const call = http.request(
      url,
      {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json', ...headers },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, body: text }));
      },
    );
    call.on('error', reject);
    call.write(body, () => call.end());
  });
}
