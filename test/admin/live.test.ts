/**
 * GET /admin/live: events as a source's requests bring them in (accepted, or rejected with the
 * code) and deliveries as a destination's come out, as server-sent events; bounded for a reader
 * that does not keep up; nothing published while no one watches.
 */
import { LiveFeed, eventStreamWriter, type LiveItem } from '../../src/admin/live-feed';
import { eventually } from '../support/eventually';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { startVendor, type VendorServer } from '../support/vendor-server';

const ADMIN_TOKEN = 'live-admin-token-0123456789';
let database: TestDatabase;
let vendor: VendorServer;
let sluice: TestSluice;

beforeAll(async () => {
  database = await createTestDatabase();
  vendor = await startVendor();
  sluice = await startTestSluice(database, {
    workspace: `
sources:
  - { id: web, writeKey: ${WRITE_KEY} }
  - { id: other, writeKey: other-write-key }
destinations:
  - { id: hook, type: webhook, config: { url: "${vendor.url}/hook" } }
connections:
  - { source: web, destination: hook }
`,
    settings: { adminToken: ADMIN_TOKEN },
  });
});
afterAll(async () => {
  await sluice?.stop();
  await vendor?.close();
  await database?.drop();
});

/** Opens a live view and collects its items until `close` is called. */
async function watch(query: string) {
  const controller = new AbortController();
  const response = await fetch(`${sluice.url}/admin/live?${query}`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const items: Array<{ event: string; data: Record<string, unknown> }> = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const block = text.slice(0, end);
        text = text.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) items.push({ event, data: JSON.parse(data) });
      }
    }
  })().catch(() => undefined);
  return {
    items,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}

const post = (path: string, body: string, writeKey = WRITE_KEY) =>
  fetch(`${sluice.url}${path}`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      'Content-Type': 'application/json',
    },
    body,
  });

test('a source’s accepted and rejected events appear as they come in; other sources’ do not', async () => {
  const view = await watch('source=web');
  try {
    await post(
      '/v1/batch',
      JSON.stringify({
        batch: [
          { type: 'track', userId: 'u1', event: 'Signed Up', messageId: 'm-live-1' },
          { type: 'track', userId: 'u1', messageId: 'm-live-2' },
        ],
      }),
    );
    await post('/v1/track', '{"userId": "u1", "event": ');
    await post(
      '/v1/track',
      JSON.stringify({ userId: 'u2', event: 'Elsewhere' }),
      'other-write-key',
    );
    await eventually(() => expect(view.items).toHaveLength(3));
    expect(view.items[0]).toEqual({
      event: 'accepted',
      data: expect.objectContaining({
        sourceId: 'web',
        messageId: 'm-live-1',
        type: 'track',
        event: 'Signed Up',
        userId: 'u1',
      }),
    });
    expect(JSON.parse(view.items[0].data.payload as string)).toMatchObject({
      messageId: 'm-live-1',
      receivedAt: expect.any(String),
    });
    expect(view.items[1]).toEqual({
      event: 'rejected',
      data: expect.objectContaining({
        code: 'SLUICE_E_INVALID_EVENT',
        index: 1,
        messageId: 'm-live-2',
      }),
    });
    // Refused before it was read: the write key in the header names the source.
    expect(view.items[2]).toEqual({
      event: 'rejected',
      data: expect.objectContaining({ sourceId: 'web', code: 'SLUICE_E_INVALID_JSON' }),
    });
  } finally {
    await view.close();
  }
});

test('a destination’s deliveries appear with their outcome', async () => {
  const view = await watch('destination=hook');
  try {
    vendor.script = () => ({ status: 400, body: '{"error":"bad"}' });
    await post(
      '/v1/track',
      JSON.stringify({ userId: 'u3', event: 'Refused', messageId: 'm-live-3' }),
    );
    await eventually(() =>
      expect(view.items).toContainEqual({
        event: 'delivery',
        data: expect.objectContaining({
          destinationId: 'hook',
          messageId: 'm-live-3',
          outcome: 'abort',
          status: 400,
        }),
      }),
    );
  } finally {
    vendor.script = () => ({ status: 200, body: '{}' });
    await view.close();
  }
});

test('the live view needs the admin token', async () => {
  const response = await fetch(`${sluice.url}/admin/live?source=web`);
  expect(response.status).toBe(401);
});

test('nothing is published while no one watches; a watcher that leaves stops it', () => {
  const feed = new LiveFeed();
  expect(feed.watchesSource('web')).toBe(false);
  const stop = feed.watch(
    { sourceId: 'web' },
    () => true,
    () => undefined,
  );
  expect([feed.watchesSource('web'), feed.watchesSource('app')]).toEqual([true, false]);
  expect(feed.watchesDestination('hook')).toBe(false);
  stop();
  expect(feed.watchesSource('web')).toBe(false);
  const all = feed.watch(
    {},
    () => true,
    () => undefined,
  );
  expect([feed.watchesSource('app'), feed.watchesDestination('hook')]).toEqual([true, true]);
  all();
});

test('a reader that does not keep up misses items and is told how many; nothing piles up', () => {
  const written: string[] = [];
  const stream = { writableLength: 0, write: (text: string) => written.push(text) > 0 };
  const send = eventStreamWriter(stream, 1000);
  const item = (n: number): LiveItem => ({
    kind: 'rejected',
    sourceId: 'web',
    at: 'now',
    code: 'SLUICE_E_INVALID_EVENT',
    message: `event ${n}`,
  });
  expect(send(item(1))).toBe(true);
  stream.writableLength = 5000; // the reader stopped reading
  expect([send(item(2)), send(item(3))]).toEqual([false, false]);
  expect(written).toHaveLength(1);
  stream.writableLength = 0; // and caught up
  expect(send(item(4))).toBe(true);
  expect(written.slice(1)).toEqual([
    'event: dropped\ndata: {"count":2}\n\n',
    expect.stringContaining('"message":"event 4"'),
  ]);
});

test('an open live view does not hold a graceful stop back', async () => {
  const second = await startTestSluice(database, {
    // A deadline past the test's own timeout: only ending the view lets the stop finish in time.
    settings: { adminToken: ADMIN_TOKEN, shutdownTimeoutMs: 120_000, roles: ['gateway'] },
  });
  const response = await fetch(`${second.url}/admin/live?source=web`, {
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(response.status).toBe(200);
  const ended = (async () => {
    for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      // read until the server ends the stream
    }
  })();
  await second.stop();
  await ended;
});
