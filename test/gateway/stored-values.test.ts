/**
 * What the gateway stores is what was sent: characters PostgreSQL text cannot hold (U+0000, lone
 * surrogates) survive as JSON escapes wherever an event carries free text, `__proto__` keys stay
 * data, and an id that becomes a text column is refused when it holds such a character.
 */
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

const post = (path: string, body: string) =>
  request(sluice.url).post(path).auth(WRITE_KEY, '').set('Content-Type', 'text/plain').send(body);

describe('characters PostgreSQL text cannot hold', () => {
  test('in event names, properties, traits and context they are stored exactly', async () => {
    // As SDKs send them: JSON escapes.
    const body = String.raw`{"batch": [
      {"type": "track", "userId": "u1", "event": "nul\u0000 lone\ud800 end",
       "properties": {"k\u0000ey": "\udc00", "list": ["\u0000", "\ud83d\ude00", "\udfff\ud800"]}},
      {"type": "identify", "userId": "u1", "traits": {"name": "a\u0000b\udbff"},
       "context": {"page": {"title": "\u0000\u001e"}}}
    ]}`;
    await post('/v1/batch', body).expect(200, { success: true });
    const sent = JSON.parse(body).batch;
    const [track, identify] = await storedEvents(database.pool);
    expect(track.event).toBe(sent[0].event);
    expect(track.properties).toEqual(sent[0].properties);
    expect(identify.traits).toEqual(sent[1].traits);
    expect(identify.context?.page).toEqual(sent[1].context.page);
  });

  test.each([
    ['userId', 'nul\u0000user', 'track'],
    ['userId', 'line\nbreak', 'track'],
    ['anonymousId', 'lone \ud800', 'track'],
    ['anonymousId', '\udc00 lone', 'track'],
    ['groupId', 'nul\u0000group', 'group'],
    ['previousId', 'nul\u0000previous', 'alias'],
    ['messageId', 'nul\u0000message', 'track'],
  ])('a %s holding %j is refused with 400 naming it', async (field, value, type) => {
    const event = { userId: 'u1', event: 'E', groupId: 'g1', previousId: 'p1', [field]: value };
    const response = await post(`/v1/${type}`, JSON.stringify(event));
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('SLUICE_E_INVALID_EVENT');
    expect(response.body.message).toContain(`"${field}"`);
    expect(await storedJobs(database.pool)).toHaveLength(0);
  });

  test('in a batch only the events with such ids are rejected', async () => {
    const response = await post(
      '/v1/batch',
      JSON.stringify({
        batch: [
          { type: 'track', userId: 'u1', event: 'Good 1' },
          { type: 'track', userId: 'nul\u0000user', event: 'Bad', messageId: 'm-bad-1' },
          { type: 'page', anonymousId: 'lone \ud800', messageId: 'm-bad-2' },
          { type: 'track', userId: 'u1', event: 'Good 2 \u0000' },
        ],
      }),
    );
    expect(response.status).toBe(200);
    expect(response.body.rejected).toEqual([
      expect.objectContaining({ index: 1, messageId: 'm-bad-1', code: 'SLUICE_E_INVALID_EVENT' }),
      expect.objectContaining({ index: 2, messageId: 'm-bad-2', code: 'SLUICE_E_INVALID_EVENT' }),
    ]);
    expect(response.body.rejected[0].message).toContain('"userId"');
    expect(response.body.rejected[1].message).toContain('"anonymousId"');
    expect((await storedEvents(database.pool)).map((e) => e.event)).toEqual([
      'Good 1',
      'Good 2 \u0000',
    ]);
  });
});

describe('__proto__, constructor and prototype keys', () => {
  // Kept as the data they are: a key like any other, at every level, batch context merged in.
  const body = String.raw`{
    "__proto__": {"sentAt": "not a date"},
    "context": {"__proto__": {"locale": "from-batch"}, "library": {"name": "lib"}},
    "integrations": {"constructor": {"All": false}},
    "batch": [{
      "type": "track", "userId": "u1", "event": "E",
      "__proto__": {"userId": "someone-else"},
      "properties": {"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"x": 1}},
                     "nested": {"__proto__": [1, 2]}},
      "context": {"__proto__": {"ip": "192.0.2.99"}, "library": {"__proto__": {"version": "9"}}}
    }]
  }`;

  test('are stored as data keys at every level, merged like any key', async () => {
    await post('/v1/batch', body).expect(200, { success: true });
    const [event] = await storedEvents(database.pool);
    const sent = JSON.parse(body).batch[0];
    expect(event.userId).toBe('u1');
    expect(JSON.stringify(event.__proto__)).toBe('{"userId":"someone-else"}');
    expect(Object.keys(event)).toContain('__proto__');
    expect(JSON.stringify(event.properties)).toBe(JSON.stringify(sent.properties));
    expect(JSON.stringify(event.context)).toBe(
      JSON.stringify({
        ...JSON.parse(String.raw`{
          "__proto__": {"locale": "from-batch", "ip": "192.0.2.99"},
          "library": {"name": "lib", "__proto__": {"version": "9"}}
        }`),
        ip: '127.0.0.1',
      }),
    );
    expect(JSON.stringify(event.integrations)).toBe('{"constructor":{"All":false}}');
    // And nothing leaked into the objects of the process.
    const probe = {} as Record<string, unknown>;
    expect([probe.isAdmin, probe.locale, probe.ip, probe.userId]).toEqual(Array(4).fill(undefined));
  });
});
